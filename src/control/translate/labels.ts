// Label selectors as Istio applies them: every selector label present with the same value (an empty selector
// selects everything).

export function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector)) if (labels[key] !== value) return false;
  return true;
}
