/*
 * The platform this build runs on, in the names Docker and the OCI image
 * spec use (Go's GOARCH): what image configs, manifest lists and commits
 * say of the host.
 */
#ifndef SHOAL_COMMON_PLATFORM_H
#define SHOAL_COMMON_PLATFORM_H

#define SHOAL_HOST_OS "linux"

#if defined(__x86_64__)
#define SHOAL_HOST_ARCH "amd64"
#elif defined(__aarch64__)
#define SHOAL_HOST_ARCH "arm64"
#elif defined(__arm__)
#define SHOAL_HOST_ARCH "arm"
#elif defined(__i386__)
#define SHOAL_HOST_ARCH "386"
#elif defined(__powerpc64__)
#define SHOAL_HOST_ARCH "ppc64le"
#elif defined(__s390x__)
#define SHOAL_HOST_ARCH "s390x"
#elif defined(__riscv)
#define SHOAL_HOST_ARCH "riscv64"
#else
#define SHOAL_HOST_ARCH "unknown"
#endif

#endif
