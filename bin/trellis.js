#!/usr/bin/env node
// Entry point of the `trellis` command. The sources are TypeScript; tsx compiles each module once, at load time,
// so there is no build step between a clone and a running sidecar.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
