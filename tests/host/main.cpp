// The one Catch2 main translation unit (the other test files only include catch.hpp).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
