/**
 * The platform's environment, validated with zod: EDGETUNE_DATA_DIR (default ./data) always; NATS_URL and
 * S3_ENDPOINT together select the distributed platform (both unset = embedded; one without the other is an
 * error), with S3_ACCESS_KEY and S3_SECRET_KEY then required and S3_BUCKET (default "edgetune"), S3_REGION
 * (default "us-east-1"), S3_USE_SSL (default from the endpoint's scheme) and S3_PART_SIZE_MB (default 16)
 * optional. `parsePlatformConfig` reports every missing or bad variable by name in one Error.
 */
import { z } from "zod";

export interface S3Config {
  endPoint: string;
  port: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
  /** Multipart part size in bytes (S3_PART_SIZE_MB × 1 MiB). */
  partSize: number;
}

export type PlatformConfig =
  | { kind: "embedded"; dataDir: string }
  | { kind: "distributed"; dataDir: string; natsUrl: string; s3: S3Config };

const nonEmpty = z.string().trim().min(1, "must not be empty");
const envSchema = z.object({
  EDGETUNE_DATA_DIR: nonEmpty.default("./data"),
  NATS_URL: nonEmpty.regex(/^(nats|tls|wss?):\/\/[^\s]+$|^[^\s:/]+(:\d+)?$/, "must be nats://host:port")
    .optional(),
  S3_ENDPOINT: nonEmpty.regex(/^(https?:\/\/)?[^\s:/]+(:\d{1,5})?\/?$/, "must be [http(s)://]host[:port]")
    .optional(),
  S3_ACCESS_KEY: nonEmpty.optional(),
  S3_SECRET_KEY: nonEmpty.optional(),
  S3_BUCKET: nonEmpty.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a valid S3 bucket name")
    .default("edgetune"),
  S3_REGION: nonEmpty.default("us-east-1"),
  S3_USE_SSL: z.enum(["true", "false", "1", "0"], { error: "must be true or false" }).optional(),
  S3_PART_SIZE_MB: z.coerce.number({ error: "must be a number" }).int("must be a whole number")
    .min(5, "must be at least 5 (S3 minimum part size)").max(5120, "must be at most 5120").default(16),
});

/** Parses the platform configuration from `env` (e.g. Deno.env.toObject()); throws listing every problem. */
export function parsePlatformConfig(env: Record<string, string | undefined>): PlatformConfig {
  const present = Object.fromEntries(
    Object.keys(envSchema.shape).map((name) => [name, blankToUndefined(env[name])]),
  );
  const parsed = envSchema.safeParse(present);
  const problems: string[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  const raw = present as Record<string, string | undefined>;
  const distributed = raw.NATS_URL !== undefined || raw.S3_ENDPOINT !== undefined;
  if (distributed) {
    for (const name of ["NATS_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY"]) {
      if (raw[name] === undefined) {
        problems.push(`${name}: is required for the distributed platform (NATS_URL or S3_ENDPOINT is set)`);
      }
    }
  }
  if (problems.length > 0 || !parsed.success) {
    throw new Error(`invalid platform configuration:\n  - ${problems.join("\n  - ")}`);
  }
  const values = parsed.data;
  if (!distributed) return { kind: "embedded", dataDir: values.EDGETUNE_DATA_DIR };
  const endpoint = values.S3_ENDPOINT!;
  const url = new URL(endpoint.includes("://") ? endpoint : `http://${endpoint}`);
  const schemeSsl = endpoint.startsWith("https://");
  const useSSL = values.S3_USE_SSL === undefined ? schemeSsl : values.S3_USE_SSL === "true" ||
    values.S3_USE_SSL === "1";
  return {
    kind: "distributed",
    dataDir: values.EDGETUNE_DATA_DIR,
    natsUrl: values.NATS_URL!,
    s3: {
      endPoint: url.hostname,
      port: url.port ? Number(url.port) : useSSL ? 443 : 80,
      useSSL,
      accessKey: values.S3_ACCESS_KEY!,
      secretKey: values.S3_SECRET_KEY!,
      bucket: values.S3_BUCKET,
      region: values.S3_REGION,
      partSize: values.S3_PART_SIZE_MB * 1024 * 1024,
    },
  };
}

function blankToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}
