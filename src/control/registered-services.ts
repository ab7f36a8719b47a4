// Registry instances → the translation's ServiceModel: instances of one service (name + namespace) become one
// service at name.namespace.svc.cluster.local; its ports are the union of its instances' ports (by name), and each
// instance is reached at its sidecar's inbound port when it has a sidecar (traffic goes sidecar to sidecar). A port
// is numbered as its first instance's servicePort says (else its application port).

import type { Instance } from "./registry/types.ts";
import { serviceFqdn, type ServiceModel, type ServicePortModel } from "./translate/index.ts";

export function registeredServices(instances: readonly Instance[]): ServiceModel[] {
  const byService = new Map<string, ServiceModel>();
  for (const instance of [...instances].sort((a, b) => a.id.localeCompare(b.id))) {
    const hostname = serviceFqdn(instance.service, instance.namespace);
    let service = byService.get(hostname);
    if (service === undefined) {
      service = {
        hostname,
        namespace: instance.namespace,
        ports: [],
        resolution: "STATIC",
        instances: [],
        exportTo: [],
      };
      byService.set(hostname, service);
    }
    const ports = service.ports as ServicePortModel[];
    for (const p of instance.ports)
      if (!ports.some((q) => q.name === p.name))
        ports.push({ name: p.name, number: p.servicePort ?? p.number, protocol: p.protocol });
    service.instances.push({
      address: instance.address,
      ports: Object.fromEntries(
        instance.ports.map((p) => [
          p.name,
          p.sidecarPort === undefined ? { appPort: p.number } : { appPort: p.number, sidecarPort: p.sidecarPort },
        ]),
      ),
      labels: instance.labels,
      weight: 1,
      hasSidecar: instance.ports.some((p) => p.sidecarPort !== undefined),
      ...(instance.nodeId !== undefined ? { nodeId: instance.nodeId } : {}),
      ...(instance.locality !== undefined ? { locality: instance.locality } : {}),
    });
  }
  return [...byService.values()];
}
