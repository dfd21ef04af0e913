/**
 * The part of Envoy's v3 API a static bootstrap can hold, as the compact descriptor that
 * scripts/build-envoy-descriptor.mjs writes from Envoy's own .proto files: every message
 * reachable from envoy.config.bootstrap.v3.Bootstrap plus every envoy.extensions.* and
 * envoy.config.* message (what a typed_config can name). Type references are already
 * resolved to full names, and each field carries its protoc-gen-validate rules.
 *
 * Plain JSON, walked directly (check.ts) rather than through protobufjs reflection: the
 * checker needs the proto3 JSON mapping and the validate rules, neither of which a
 * reflection library applies, and a 340 KB JSON import is all a browser build carries.
 */
import raw from './envoy-descriptor.json';

export interface FieldDescriptor {
  /** a scalar type name (`string`, `uint32`, ...) or a message's or enum's full name */
  type: string;
  repeated?: true;
  /** set for a map field: the key's scalar type */
  keyType?: string;
  /** a json_name other than the default lowerCamelCase one */
  json?: string;
  oneof?: string;
  deprecated?: true;
  /** `(envoy.annotations.disallowed_by_default)`: deprecated and refused unless runtime allows it */
  disallowed?: true;
  /** `(validate.rules)`, as written in the proto */
  rules?: Rules;
  /** `[#extension-category: ...]` of an Any or TypedExtensionConfig field */
  category?: string[];
}

export interface MessageDescriptor {
  fields: Record<string, FieldDescriptor>;
  /** real oneofs (not proto3 `optional`); `required` is `(validate.required)` */
  oneofs?: Record<string, { required?: true }>;
  deprecated?: true;
  /** `[#extension: ...]` names of the file a top-level envoy.extensions message is in */
  extension?: string[];
}

export interface EnumDescriptor {
  values: Record<string, number>;
  deprecated?: string[];
}

/** A protoc-gen-validate `FieldRules` value (validate/validate.proto), kept as parsed. */
export type Rules = { [kind: string]: RuleValue };
export type RuleValue = string | number | boolean | RuleValue[] | { [key: string]: RuleValue };

export interface EnvoyDescriptor {
  source: string;
  /** proto files left out because the package lacks protos they import */
  skipped: string[];
  /** the top-level messages of those files */
  skippedTypes: string[];
  messages: Record<string, MessageDescriptor>;
  enums: Record<string, EnumDescriptor>;
}

export const envoyApi = raw as unknown as EnvoyDescriptor;

export const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';

/** proto3 JSON's default field name: `connect_timeout` -> `connectTimeout`. */
export function jsonName(field: string): string {
  return field.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
