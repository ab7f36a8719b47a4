// envoy.filters.http.fault: registered by its type URL; the listener-level typed_config and every route's
// typed_per_filter_config entry are the same HTTPFault message (Envoy's and Istio's usage).

import { registerFilter } from "../../http/filters.ts";
import { FAULT_TYPE_URL, parseFaultConfig, type FaultSettings } from "./config.ts";
import { createFaultLayer } from "./filter.ts";

registerFilter<FaultSettings>({
  typeUrl: FAULT_TYPE_URL,
  parse: parseFaultConfig,
  parsePerRoute: parseFaultConfig,
  create: createFaultLayer,
});
