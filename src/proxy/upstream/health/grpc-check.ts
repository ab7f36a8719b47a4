// The gRPC health check (Envoy's GrpcHealthCheckerImpl): grpc.health.v1.Health/Check over h2c with the configured
// service_name and :authority (or the cluster's name). It passes when the call ends with grpc-status 0 and the
// answer says SERVING; any other status, a missing grpc-status or a malformed answer fails it at once (an
// "active" failure), while a failed connection or a reset stream is a network failure.

import type { GrpcHealthCheck } from "../../../api/xds/types.ts";
import {
  HEALTH_CHECK_PATH,
  SERVING,
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  servingStatusName,
} from "./grpc-health-proto.ts";
import { H2cConnection } from "./h2c-connection.ts";
import { HEALTH_CHECK_USER_AGENT } from "./http-check.ts";
import { PASSED, activeFailure, networkFailure, type CheckResult, type Probe, type ProbeTarget } from "./probe.ts";

export class GrpcProbe implements Probe {
  private readonly connection: H2cConnection;
  private readonly headers: Record<string, string>;
  private readonly body: Buffer;

  constructor(
    target: ProbeTarget,
    check: GrpcHealthCheck,
    authority: string,
    private readonly reuse: boolean,
  ) {
    this.connection = new H2cConnection(target);
    this.headers = {
      ":method": "POST",
      ":path": HEALTH_CHECK_PATH,
      ":scheme": "http",
      ":authority": authority,
      "content-type": "application/grpc",
      te: "trailers",
      "user-agent": HEALTH_CHECK_USER_AGENT,
    };
    this.body = encodeHealthCheckRequest(check.serviceName);
  }

  check(done: (result: CheckResult) => void): void {
    let httpStatus = 0;
    let grpcStatus: string | undefined;
    const chunks: Buffer[] = [];
    this.connection.request(this.headers, this.body, {
      onHeaders: (headers) => {
        httpStatus = Number(headers[":status"] ?? 0);
        // A trailers-only answer carries grpc-status in its head.
        if (headers["grpc-status"] !== undefined) grpcStatus = String(headers["grpc-status"]);
      },
      onData: (chunk) => chunks.push(chunk),
      onTrailers: (trailers) => {
        if (trailers["grpc-status"] !== undefined) grpcStatus = String(trailers["grpc-status"]);
      },
      onEnd: () => {
        if (!this.reuse) this.connection.close();
        done(verdict(httpStatus, grpcStatus, Buffer.concat(chunks)));
      },
      onError: (reason) => done(networkFailure(reason)),
    });
  }

  abort(): void {
    this.connection.close();
  }

  close(): void {
    this.connection.close();
  }
}

function verdict(httpStatus: number, grpcStatus: string | undefined, body: Buffer): CheckResult {
  if (httpStatus !== 200) return activeFailure(`HTTP status ${httpStatus} (expected 200 for gRPC)`);
  if (grpcStatus === undefined) return activeFailure("no grpc-status in the answer");
  if (grpcStatus !== "0") return activeFailure(`grpc-status ${grpcStatus}`);
  const decoded = decodeHealthCheckResponse(body);
  if ("error" in decoded) return activeFailure(decoded.error);
  if (decoded.status !== SERVING) return activeFailure(`serving status ${servingStatusName(decoded.status)}`);
  return PASSED;
}
