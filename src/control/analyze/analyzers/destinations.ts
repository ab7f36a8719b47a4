// Every destination a VirtualService names, with the field path it was written at: routes (http, tcp, tls) and
// mirrors. Shared by the analyzers of destination hosts, ports and subsets.

import type { Destination, VirtualService } from "../../../api/resources/types.ts";

export interface PlacedDestination {
  destination: Destination;
  /** "host" for a route's destination, "mirror host" for a mirror (Istio's reference types). */
  role: "host" | "mirror host";
  /** The path of the destination ("spec.http[0].route[1].destination"). */
  path: string;
}

export function destinationsOf(vs: VirtualService): PlacedDestination[] {
  const out: PlacedDestination[] = [];
  vs.spec.http.forEach((r, i) => {
    (r.route ?? []).forEach((d, j) =>
      out.push({ destination: d.destination, role: "host", path: `spec.http[${i}].route[${j}].destination` }),
    );
    if (r.mirror) out.push({ destination: r.mirror, role: "mirror host", path: `spec.http[${i}].mirror` });
    r.mirrors.forEach((m, j) =>
      out.push({ destination: m.destination, role: "mirror host", path: `spec.http[${i}].mirrors[${j}].destination` }),
    );
  });
  vs.spec.tcp.forEach((r, i) =>
    r.route.forEach((d, j) =>
      out.push({ destination: d.destination, role: "host", path: `spec.tcp[${i}].route[${j}].destination` }),
    ),
  );
  vs.spec.tls.forEach((r, i) =>
    r.route.forEach((d, j) =>
      out.push({ destination: d.destination, role: "host", path: `spec.tls[${i}].route[${j}].destination` }),
    ),
  );
  return out;
}
