/**
 * The platform contract suite: one set of behavioural tests every Platform implementation must pass
 * (MetaStore, JobQueue, EventLog, BlobStore). `registerPlatformContract` registers them as Deno tests named
 * `<settings.name> <area>: <case>` against a factory that builds a fresh, isolated platform per case;
 * `platformContractCases` returns them instead, e.g. to run as steps of a test that owns services.
 */
import { registerBlobContract } from "./contract_blobs.ts";
import { registerEventContract } from "./contract_events.ts";
import type { ContractSettings, DefineTest, PlatformFactory } from "./contract_helpers.ts";
import { registerMetaContract } from "./contract_meta.ts";
import { registerQueueContract } from "./contract_queue.ts";

export type { ContractSettings, PlatformFactory } from "./contract_helpers.ts";

export interface ContractCase {
  name: string;
  fn: () => Promise<void>;
}

export function platformContractCases(factory: PlatformFactory, settings: ContractSettings): ContractCase[] {
  const cases: ContractCase[] = [];
  const define: DefineTest = (name, fn) => cases.push({ name, fn });
  registerMetaContract(factory, settings, define);
  registerQueueContract(factory, settings, define);
  registerEventContract(factory, settings, define);
  registerBlobContract(factory, settings, define);
  return cases;
}

export function registerPlatformContract(factory: PlatformFactory, settings: ContractSettings): void {
  for (const { name, fn } of platformContractCases(factory, settings)) {
    Deno.test(`${settings.name} ${name}`, fn);
  }
}
