// Lint: typescript-eslint's recommended rules, plus the one-way layering of DESIGN.md §1:
// api ← telemetry ← {proxy, control} ← {cli, dashboard}.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** Forbid imports from the named top-level folders of src/. */
function forbid(...layers) {
  return {
    "no-restricted-imports": [
      "error",
      {
        patterns: layers.map((layer) => ({
          group: [`**/${layer}/*`, `**/${layer}`],
          message: `DESIGN.md §1: this layer may not import from src/${layer}/ (dependencies point one way).`,
        })),
      },
    ],
  };
}

export default tseslint.config(
  { ignores: ["node_modules/**", "bench/results/**", ".tmp/**", ".build/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        setImmediate: "readonly",
        queueMicrotask: "readonly",
        URL: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  { files: ["src/api/**"], rules: forbid("telemetry", "proxy", "control", "cli", "dashboard") },
  { files: ["src/telemetry/**"], rules: forbid("proxy", "control", "cli", "dashboard") },
  { files: ["src/proxy/**"], rules: forbid("control", "cli", "dashboard") },
  { files: ["src/control/**"], rules: forbid("proxy", "cli", "dashboard") },
);
