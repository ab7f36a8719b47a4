// Test data shared by the DNS proxy's tests (the lookup table's unit tests and the proxy on real sockets).

/** NameTable entries every DNS test starts from: two Kubernetes services (one dual-stack) and a wildcard host. */
export const MESH_NAMES = {
  "meeting.default.svc.cluster.local": {
    ips: ["240.240.3.7"],
    registry: "Kubernetes",
    shortname: "meeting",
    namespace: "default",
  },
  "billing.payments.svc.cluster.local": {
    ips: ["240.240.0.9", "fd00::9"],
    registry: "Kubernetes",
    shortname: "billing",
    namespace: "payments",
  },
  "*.example.org": { ips: ["240.240.8.1"] },
};
