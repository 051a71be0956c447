// vireo command-line entry point (placeholder until the CLI lands).
#include <cstdio>
int main() { std::puts("vireo"); return 0; }
