// Istio's resources: types, reading and validation, serialisation. What the rest of Trellis imports.

export * from "./types.ts";
export { loadResources, validateResources } from "./load.ts";
export type { LoadedResources } from "./load.ts";
export { ResourceValidationError } from "./errors.ts";
export type { ResourceProblem } from "./errors.ts";
export { resourceKey, serializeResource, toIstioObject } from "./serialize.ts";
export { parseIstioDuration, formatIstioDuration } from "./duration.ts";
export { KINDS, isResourceKind } from "./envelope.ts";
