// The kind names the CLI accepts, as kubectl and istioctl users type them: singular, plural, short, any case.

const KINDS: Record<string, string[]> = {
  VirtualService: ["virtualservice", "virtualservices", "vs"],
  DestinationRule: ["destinationrule", "destinationrules", "dr"],
  ServiceEntry: ["serviceentry", "serviceentries", "se"],
  Gateway: ["gateway", "gateways", "gw"],
  Sidecar: ["sidecar", "sidecars"],
  WorkloadEntry: ["workloadentry", "workloadentries", "we"],
  PeerAuthentication: ["peerauthentication", "peerauthentications", "pa"],
  AuthorizationPolicy: ["authorizationpolicy", "authorizationpolicies", "ap"],
  RequestAuthentication: ["requestauthentication", "requestauthentications", "ra"],
  Telemetry: ["telemetry", "telemetries"],
};

/** The canonical kind for what a user typed, or undefined. */
export function kindOf(typed: string): string | undefined {
  const lower = typed.toLowerCase();
  for (const [kind, names] of Object.entries(KINDS)) if (names.includes(lower)) return kind;
  return undefined;
}

export function knownKinds(): string {
  return Object.entries(KINDS)
    .map(([kind, names]) => `${kind} (${names.join(", ")})`)
    .join("; ");
}
