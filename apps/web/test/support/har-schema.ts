import { z } from 'zod';

/**
 * HAR 1.2 (softwareishard.com/blog/har-12-spec) as a zod schema, for the unit tests and the
 * e2e spec: the required fields with their types, -1 only where the spec allows it.
 */

// HAR 1.2 objects: the spec's fields with their types; any other field must be a custom
// one (a leading underscore).
function harObject<T extends z.ZodRawShape>(shape: T) {
  return z.looseObject(shape).superRefine((o, ctx) => {
    for (const key of Object.keys(o)) if (!(key in shape) && !key.startsWith('_')) ctx.addIssue({ code: 'custom', message: `"${key}" is not a HAR 1.2 field`, path: [key] });
  });
}
const nameValue = harObject({ name: z.string(), value: z.string(), comment: z.string().optional() });
const cookie = harObject({ name: z.string(), value: z.string(), path: z.string().optional(), domain: z.string().optional(), expires: z.string().optional(), httpOnly: z.boolean().optional(), secure: z.boolean().optional(), comment: z.string().optional() });
const optionalTiming = z.number().min(-1);
const requiredTiming = z.number().min(0);
export const HarSchema = harObject({
  log: harObject({
    version: z.literal('1.2'),
    creator: harObject({ name: z.string(), version: z.string(), comment: z.string().optional() }),
    browser: harObject({ name: z.string(), version: z.string() }).optional(),
    pages: z.array(z.unknown()).optional(),
    comment: z.string().optional(),
    entries: z.array(
      harObject({
        pageref: z.string().optional(),
        startedDateTime: z.iso.datetime({ offset: true }),
        time: z.number().min(0),
        request: harObject({
          method: z.string().min(1),
          url: z.url(),
          httpVersion: z.string(),
          cookies: z.array(cookie),
          headers: z.array(nameValue),
          queryString: z.array(nameValue),
          postData: z.unknown().optional(),
          headersSize: z.number().int().min(-1),
          bodySize: z.number().int().min(-1),
          comment: z.string().optional(),
        }),
        response: harObject({
          status: z.number().int(),
          statusText: z.string(),
          httpVersion: z.string(),
          cookies: z.array(cookie),
          headers: z.array(nameValue),
          content: harObject({ size: z.number().int().min(0), compression: z.number().optional(), mimeType: z.string(), text: z.string().optional(), encoding: z.string().optional(), comment: z.string().optional() }),
          redirectURL: z.string(),
          headersSize: z.number().int().min(-1),
          bodySize: z.number().int().min(-1),
          comment: z.string().optional(),
        }),
        cache: harObject({ beforeRequest: z.unknown().optional(), afterRequest: z.unknown().optional(), comment: z.string().optional() }),
        timings: harObject({
          blocked: optionalTiming.optional(),
          dns: optionalTiming.optional(),
          connect: optionalTiming.optional(),
          send: requiredTiming,
          wait: requiredTiming,
          receive: requiredTiming,
          ssl: optionalTiming.optional(),
          comment: z.string().optional(),
        }),
        serverIPAddress: z.string().optional(),
        connection: z.string().optional(),
        comment: z.string().optional(),
      }),
    ),
  }),
});

