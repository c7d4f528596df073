// libgit2 as Debian builds it (with libssh2) starts libssh2 while it starts (git_libgit2_init ->
// git_transport_ssh_global_init -> libssh2_init), and libssh2 starts OpenSSL's libcrypto: about
// 0.3 ms of CPU in every process that loads libgit2, on the way to a run's first snapshot.
// Sidecar asks libgit2 only about local repositories and never opens an SSH remote through it,
// so the sidecar executable defines libssh2_init as a no-op (exported as the mbedTLS ones are:
// cli/git_tls_certificates.cpp, CMakeLists.txt).
//
// What this gives up: nothing Sidecar uses. Should an SSH transfer ever go through libgit2,
// OpenSSL 1.1 and later start themselves on first use. The embeddable library (sidecar_host)
// does not carry this: a program that embeds Sidecar keeps its libssh2 whole.
extern "C" {
int libssh2_init(int) { return 0; }
}
