// translate's public face: the world model, the proxy's identity, and the pure translation.

export { translate, translateInbound, translateOutbound } from "./translate.ts";
export type { InboundTranslation, TranslationResult } from "./translate.ts";
export { World } from "./world-index.ts";
export type { MeshWorldInput, OutboundTrafficPolicyMode, WorldInput } from "./world-index.ts";
export { buildServices, serviceFqdn } from "./world.ts";
export type { InstancePort, ServiceInstance, ServiceModel, ServicePortModel } from "./world.ts";
export { proxyIdentityFromNode, DEFAULT_OUTBOUND_PORT, DEFAULT_TCP_OUTBOUND_ADDRESS } from "./proxy-identity.ts";
export type { ProxyIdentity, ProxyPort } from "./proxy-identity.ts";
export * from "./names.ts";
