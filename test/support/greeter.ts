// A JSON-over-gRPC greeter for the proxyless gRPC tests: the channel's resolution, routing and balancing do not
// care how messages are encoded.

import * as grpc from "@grpc/grpc-js";

const json = {
  serialize: (x: unknown) => Buffer.from(JSON.stringify(x)),
  deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown,
};

export const sayHello = {
  path: "/helloworld.Greeter/SayHello",
  requestStream: false,
  responseStream: false,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
} as const;

export const Greeter = grpc.makeGenericClientConstructor({ SayHello: sayHello }, "Greeter");

/** A greeter on 127.0.0.1 port 0 answering {message, from: `from`}. */
export async function startGreeter(from: string): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(
    { SayHello: sayHello },
    {
      SayHello: (call: grpc.ServerUnaryCall<{ name: string }, unknown>, cb: grpc.sendUnaryData<unknown>) =>
        cb(null, { message: `hello ${call.request.name}`, from }),
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { port, server };
}
