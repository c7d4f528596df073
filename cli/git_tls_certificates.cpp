// libgit2 as Debian builds it (with mbedTLS) parses the system's whole CA bundle while it starts
// (git_libgit2_init -> git_mbedtls_stream_global_init): about 4 ms of CPU in every process that
// loads it, the largest single cost of a run in a git repository (issue 16). Sidecar asks libgit2
// only about local repositories and never opens an HTTPS remote through it, so the sidecar
// executable defines the two mbedTLS functions that do the parsing as no-ops. The dynamic linker
// looks in the executable first (CMakeLists.txt exports these two symbols), so libgit2's calls
// land here rather than in libmbedx509.
//
// What this gives up: libgit2 holds no trusted certificate, so an HTTPS operation through it would
// fail its certificate check: it fails closed. A libgit2 built with OpenSSL never calls these, and
// nothing changes. The embeddable library (sidecar_host) does not carry them: a program that
// embeds Sidecar keeps its own mbedTLS whole.
struct mbedtls_x509_crt;

extern "C" {
int mbedtls_x509_crt_parse_file(mbedtls_x509_crt*, const char*) { return 0; }
int mbedtls_x509_crt_parse_path(mbedtls_x509_crt*, const char*) { return 0; }
}
