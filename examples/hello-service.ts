// The demo's upstream: a plain HTTP service that knows nothing of the mesh. It answers with who it is and what it
// received, so a person can see the sidecars' work (x-forwarded-for, x-request-id, the path after rewrites).

import http from "node:http";

export function createHelloService(name: string): http.Server {
  return http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.stringify(
        {
          service: name,
          method: req.method,
          path: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        },
        null,
        2,
      );
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) + 1 });
      res.end(body + "\n");
    });
  });
}
