// Building blocks shared by the response schemas (response-schemas.ts and v1-response-schemas.ts):
// integer ranges and a closed-object helper, so both files describe numbers and objects alike.

const U32_MAX = 4_294_967_295;
export const u32 = { type: 'integer', minimum: 0, maximum: U32_MAX } as const;
export const u8 = { type: 'integer', minimum: 0, maximum: 255 } as const;
export const count = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
export const success = { type: 'boolean', enum: [true] } as const;

/** A closed object whose properties are all required but the `optional` ones. */
export function object(properties: Record<string, unknown>, optional: string[] = []) {
  return {
    type: 'object',
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    additionalProperties: false,
    properties,
  } as const;
}
