// A self-signed test certificate for *.example.com and example.com (EC P-256, valid until 2125), generated once with
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500 \
//     -subj "/CN=trellis test passthrough" -addext "subjectAltName=DNS:*.example.com,DNS:example.com"
// For tests only: the key is public.

export const TEST_KEY = `
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHmeSummfCNbcOMXy
Ku5bqRL3rM9nfn7owDTLE/nvPq2hRANCAAR1yQEo/TN3jIArm+us5K4QWeJ2EjEl
xFL38HUtUJYcpDLQLxaa9NbDcKtD+euWTTRT8V0PZC4n95Lbv9SVM2W4
-----END PRIVATE KEY-----
`;

export const TEST_CERT = `
-----BEGIN CERTIFICATE-----
MIIBxTCCAWqgAwIBAgIUOinxaI5L5QQGiBs/H8rrkQGL7rUwCgYIKoZIzj0EAwIw
IzEhMB8GA1UEAwwYdHJlbGxpcyB0ZXN0IHBhc3N0aHJvdWdoMCAXDTI2MTEyNjA1
MjA0NloYDzIxMjYxMTAyMDUyMDQ2WjAjMSEwHwYDVQQDDBh0cmVsbGlzIHRlc3Qg
cGFzc3Rocm91Z2gwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAR1yQEo/TN3jIAr
m+us5K4QWeJ2EjElxFL38HUtUJYcpDLQLxaa9NbDcKtD+euWTTRT8V0PZC4n95Lb
v9SVM2W4o3oweDAdBgNVHQ4EFgQU//zcY1TEXr/EhWRLG27fvsWmY64wHwYDVR0j
BBgwFoAU//zcY1TEXr/EhWRLG27fvsWmY64wDwYDVR0TAQH/BAUwAwEB/zAlBgNV
HREEHjAcgg0qLmV4YW1wbGUuY29tggtleGFtcGxlLmNvbTAKBggqhkjOPQQDAgNJ
ADBGAiEApkbLcnovy2QRd1zvSur/NtRy8ssjb7LssWQzwBlvrz8CIQCyswZzFQdR
qDaKFBQx/JKnlo7yCR+8eR6GbPQdCUEctg==
-----END CERTIFICATE-----
`;
