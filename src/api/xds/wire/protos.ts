// Envoy's v3 API as protobuf, for the xDS wire: the .proto files that @grpc/grpc-js-xds ships (its deps/ folder:
// envoy-api, xds, googleapis, protoc-gen-validate), loaded once with protobufjs. Field names are kept as written in
// the .proto files (snake_case), so a decoded resource is the same JSON a user writes in a bootstrap and goes through
// the same parsers (src/api/xds/parse/).

import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { installJsonWrappers } from "./json-wrappers.ts";

/** Every message an xDS resource of ours may contain (resources, filters, extensions), and the ADS service. */
export const PROTO_FILES = [
  "envoy/service/discovery/v3/ads.proto",
  "envoy/service/discovery/v3/discovery.proto",
  "envoy/config/listener/v3/listener.proto",
  "envoy/config/route/v3/route.proto",
  "envoy/config/cluster/v3/cluster.proto",
  "envoy/config/endpoint/v3/endpoint.proto",
  "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto",
  "envoy/extensions/filters/network/local_ratelimit/v3/local_rate_limit.proto",
  "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto",
  "envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto",
  "envoy/extensions/filters/listener/original_dst/v3/original_dst.proto",
  "envoy/extensions/filters/listener/proxy_protocol/v3/proxy_protocol.proto",
  "envoy/extensions/transport_sockets/tls/v3/tls.proto",
  "envoy/extensions/transport_sockets/tls/v3/secret.proto",
  "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto",
  "envoy/extensions/filters/http/router/v3/router.proto",
  "envoy/extensions/filters/http/fault/v3/fault.proto",
  "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto",
  "envoy/extensions/filters/http/cors/v3/cors.proto",
  "envoy/extensions/filters/http/dynamic_forward_proxy/v3/dynamic_forward_proxy.proto",
  "envoy/extensions/clusters/dynamic_forward_proxy/v3/cluster.proto",
  "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
  "envoy/extensions/access_loggers/file/v3/file.proto",
  "envoy/extensions/access_loggers/stream/v3/stream.proto",
  "envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto",
  "envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.proto",
  "istio/networking/nds/v1/nds.proto",
] as const;

const require = createRequire(import.meta.url);

/** Our own .proto files (Istio's NDS): protos/ at the top of the checkout, found from this file's directory up, so
 * both the sources and the bundle in .build/current/ find it. */
function ownProtoDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "protos");
    if (existsSync(join(candidate, "istio"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The include directories of the shipped protos and of ours. */
export function protoIncludeDirs(): string[] {
  const deps = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
  // protobufjs ships google/protobuf/*.proto (descriptor.proto among them), which the Envoy protos import.
  const protobufjsDir = dirname(require.resolve("protobufjs/package.json"));
  const own = ownProtoDir();
  return [
    ...["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(deps, d)),
    protobufjsDir,
    ...(own === undefined ? [] : [own]),
  ];
}

let root: protobuf.Root | undefined;

/** The loaded protobuf root (loaded on first use, about 0.3 s). */
export function envoyProtos(): protobuf.Root {
  if (root !== undefined) return root;
  installJsonWrappers();
  const dirs = protoIncludeDirs();
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => {
    for (const d of dirs) {
      const candidate = join(d, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  r.loadSync([...PROTO_FILES], { keepCase: true });
  r.resolveAll();
  root = r;
  return r;
}
