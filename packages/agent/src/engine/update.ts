import { componentConfigHash, findComponent, imageReference, secretValuesOf, type Component, type ProjectConfig } from '@gantry/spec';
import { waitUntilReady } from '../checks/ready-gate';
import { withSignal, type ContainerRuntime, type ManagedContainer, type PublishedPort } from '../runtime/container-runtime';
import type { HostProxy } from '../proxy/proxy';
import type { ComponentAdmission } from '../policy/host-admission';
import { containerTarget } from './container-target';
import { readHostEnvironment } from './environment';
import { withLinkEnvironment } from '../links/link-environment';
import { requiredLinkEnvironment } from './required-links';
import { asEngineError, EngineError } from './errors';
import { PhaseClock, type EventSink, type PhaseTimings } from './events';
import { hostFrontends, servedFrontends } from './frontends';
import type { HostContext } from './host-context';
import { observeComponent, serverName } from './observe';
import { redactedError, redactedText } from './redact-error';
import { retireContainers } from './retire';
import { ContainerTeardowns } from './teardown';
import { drainServer } from '../drain/drainer';
import { addMissingServers, syncServerPorts } from './sync-ports';

export interface EngineDeps {
  runtime: ContainerRuntime;
  proxy: HostProxy;
  /** This host's policy: a component it refuses is not touched at all. None (`gantry local`): anything runs. */
  admission?: ComponentAdmission;
  /**
   * The host's teardowns (gantryd's, one per host): an update hands its drained containers there
   * and returns without waiting for their stop and removal. None: each update waits for its own.
   */
  teardown?: ContainerTeardowns;
}

export interface UpdateRequest {
  config: ProjectConfig;
  component: string;
  /** Run this tag instead of the config's. */
  tag?: string;
  /** `always` pulls even when the image is present (default for the `latest` tag). */
  pull?: 'missing' | 'always';
  /** Gantryd's `start`: when any container already serves, leave it as it is. */
  ifNoneServing?: boolean;
  /** Start a fresh container even when the serving one is up to date (it failed its health checks). */
  replace?: boolean;
  /**
   * A serving container made with this config hash (the config generation the desired version
   * names) is up to date too, though the config now says otherwise: the newer config waits for a
   * rollout to bring it host by host. A fresh container always takes the config as it is now.
   */
  keepConfigHash?: string;
  onEvent?: EventSink;
  /** Cancels the update: every Docker call it makes takes it (and has its own deadline too). */
  signal?: AbortSignal;
}

export interface UpdateSummary {
  component: string;
  version: string;
  image: string;
  /** The container serving now. */
  container: string;
  /** True when the right container was already serving and nothing was started. */
  unchanged: boolean;
  /** The config hash the serving container was made with. */
  configHash?: string;
  /** Where the serving container's ports are published now (they change when dockerd restarts it). */
  hostPorts?: Record<number, PublishedPort>;
  /** Old containers drained and out of every frontend (then torn down: see `teardown`), with how each drain ended. */
  retired: Array<{ container: string; drained: boolean; closedConnections: number; waitedMs: number }>;
  /** The component's containers still being stopped and removed in the background as the update returns. */
  teardown: Array<{ container: string; stopTimeoutMs: number }>;
  timings: PhaseTimings;
}

export function resolveComponent(config: ProjectConfig, name: string): Component {
  const component = findComponent(config, name);
  if (!component) {
    const known = config.components.map((c) => c.name).join(', ');
    throw new EngineError('invalid-input', `no component "${name}" in the config (it has: ${known})`);
  }
  return component;
}

/**
 * One zero-downtime update of one component on this host. Level-triggered: it first observes what
 * runs (so a run after a crash finishes the crashed run's work), starts the new version beside the
 * old, switches the proxy only once every ready check passes, then drains the old. It is done once
 * the old is drained and out of every frontend: with `engine.teardown` its stop and removal go on
 * in the background. A new version that never gets ready is removed and the old one keeps serving, untouched.
 */
export async function updateComponent(engine: EngineDeps, ctx: HostContext, req: UpdateRequest): Promise<UpdateSummary> {
  // Every value no status or log may show: filled in as they are known (valueFrom files at create).
  const secrets: string[] = [];
  // Without the host's teardowns this update waits for its own (as every update did before them).
  const teardown = engine.teardown ?? new ContainerTeardowns(engine.runtime);
  try {
    const summary = await update(engine, ctx, req, secrets, teardown);
    if (engine.teardown) return summary;
    const waitedFrom = performance.now();
    await teardown.settled();
    const waited = Math.round((performance.now() - waitedFrom) * 10) / 10;
    return { ...summary, timings: { ...summary.timings, teardown: waited, total: (summary.timings.total ?? 0) + waited } };
  } catch (err) {
    if (!engine.teardown) await teardown.settled();
    throw redactedError(err, secrets);
  }
}

async function update(engine: EngineDeps, ctx: HostContext, req: UpdateRequest, secrets: string[], teardown: ContainerTeardowns): Promise<UpdateSummary> {
  const deps: EngineDeps = { ...engine, runtime: withSignal(engine.runtime, req.signal) };
  const { runtime, proxy } = deps;
  const emit: EventSink = req.onEvent ?? (() => undefined);
  const clock = new PhaseClock();
  const component = resolveComponent(req.config, req.component);
  secrets.push(...secretValuesOf(component));
  // The policy judges what would be started: the config as it is now. A container kept because
  // the desired value names its config generation is not started anew, so not judged (yet).
  const admit = () => {
    const refusal = engine.admission?.refusal(req.config, component.name);
    if (refusal !== undefined) throw new EngineError('refused', refusal);
  };
  const version = req.tag ?? component.tag;
  const image = imageReference(component, version);
  const configHash = componentConfigHash(component);

  const observed = await observeComponent(runtime, proxy, ctx, component, teardown);
  const ids = (cs: ManagedContainer[]) => cs.map((c) => c.id);
  emit({ type: 'observed', serving: ids(observed.serving), draining: ids(observed.draining), leftovers: ids(observed.leftovers), tearingDown: ids(observed.tearingDown) });
  for (const { frontend, server } of observed.staleServers) await proxy.removeServer(frontend, server);
  // In no frontend: a teardown a restart cut short, or interrupted work. Finished in the background
  // (the next update does not wait for them); this update starts nothing before this point.
  for (const c of observed.leftovers) void teardown.begin(c, component.stopTimeout, emit);
  // A dockerd restart may have restarted containers on new ports: the proxy follows them first.
  for (const change of await syncServerPorts(proxy, component, [...observed.serving, ...observed.draining])) {
    emit({ type: 'ports-changed', container: change.container, frontend: change.frontend, from: change.from, to: change.to });
  }
  clock.mark('observe');
  const upToDate = (c: ManagedContainer) => c.configHash === configHash || (req.keepConfigHash !== undefined && c.configHash === req.keepConfigHash);
  // Before the proxy and the pull: a refused component costs this host nothing. (A kept container
  // whose tag moved is judged below, once the image says a new one is needed.)
  const keeps = (c: ManagedContainer) => c.state === 'running' && c.version === version && upToDate(c);
  if (!(req.ifNoneServing && observed.serving.length > 0) && (req.replace || !observed.serving.some(keeps))) admit();
  if (req.ifNoneServing && observed.serving.length > 0) {
    const running = observed.serving[0];
    emit({ type: 'up-to-date', container: running.id, version: running.version });
    return { component: component.name, version: running.version, image: running.image, container: running.id, unchanged: true, hostPorts: running.hostPorts, retired: [], teardown: runningTeardowns(teardown, component.name), timings: clock.finish() };
  }

  // The proxy first: a taken port or a config haproxy refuses fails here, before any container exists.
  try {
    await proxy.ensure(await hostFrontends(req.config, ctx));
  } catch (err) {
    throw asEngineError(err, 'proxy', `the proxy on ${ctx.bindAddress} cannot serve this config`);
  }
  clock.mark('proxy');

  const pull = req.pull ?? (version === 'latest' ? 'always' : 'missing');
  emit({ type: 'pull-started', image });
  let imageInfo;
  try {
    imageInfo = await runtime.ensureImage(image, { pull, signal: req.signal, onProgress: (progress) => emit({ type: 'pull-progress', image, progress }) });
  } catch (err) {
    throw asEngineError(err, 'image', `image ${image}`);
  }
  emit({ type: 'image-ready', image, imageId: imageInfo.id, pulled: imageInfo.pulled });
  clock.mark('image');

  const current = req.replace ? undefined : observed.serving.find((c) => c.imageId === imageInfo.id && upToDate(c) && c.state === 'running');
  let serving: ManagedContainer;
  let unchanged = false;
  if (current) {
    emit({ type: 'up-to-date', container: current.id, version });
    // A frontend the config added that needs no new container (a link on a port it already
    // publishes) gets the serving container too.
    await addMissingServers(proxy, component, current);
    serving = current;
    unchanged = true;
  } else {
    admit();
    const index = req.config.components.indexOf(component);
    // Before anything is created: a required link without a serving container here fails now, by name.
    const links = await requiredLinkEnvironment(proxy, ctx, req.config, component, index);
    serving = await startReady(deps, ctx, component, { version, image, configHash, index, secrets, links }, emit, clock, req.signal);
    await switchTo(proxy, component, serving, observed.serving, emit);
    clock.mark('switch');
  }

  const old = [...observed.serving, ...observed.draining].filter((c) => c.id !== serving.id);
  const retired = await retireContainers(deps, component, old, emit, teardown);
  clock.mark('drain');
  return { component: component.name, version, image, container: serving.id, unchanged, configHash: serving.configHash, hostPorts: serving.hostPorts, retired, teardown: runningTeardowns(teardown, component.name), timings: clock.finish() };
}

function runningTeardowns(teardown: ContainerTeardowns, component: string): UpdateSummary['teardown'] {
  return teardown.list(component).map((t) => ({ container: t.container, stopTimeoutMs: t.stopTimeoutMs }));
}

/** Creates and starts the new container and waits for its ready checks; removes it if they fail. */
async function startReady(
  deps: EngineDeps,
  ctx: HostContext,
  component: Component,
  what: { version: string; image: string; configHash: string; index: number; secrets: string[]; links: Array<{ name: string; value: string }> },
  emit: EventSink,
  clock: PhaseClock,
  signal?: AbortSignal,
): Promise<ManagedContainer> {
  const { runtime } = deps;
  let container: ManagedContainer | undefined;
  try {
    // Read at creation, on this host: the values go to Docker, and into `secrets` to be kept out of everything else.
    const host = readHostEnvironment(component, what.index);
    what.secrets.push(...host.secrets);
    container = await runtime.create({ ...host.component, environmentVariables: withLinkEnvironment(host.component.environmentVariables, what.links) }, {
      project: ctx.project,
      hostId: ctx.hostId,
      version: what.version,
      imageRef: what.image,
      configHash: what.configHash,
      publishAddress: ctx.publishAddress,
    });
    clock.mark('create');
    container = await runtime.start(container.id);
    clock.mark('start');
    emit({ type: 'container-started', container: container.id, version: what.version });

    const started = container;
    const outcome = await waitUntilReady(component.readyChecks, containerTarget(runtime, started), {
      readyTimeoutMs: component.readyTimeout,
      signal,
      onAttempt: (result) => emit({ type: 'ready-check', container: started.id, result }),
      isAlive: async () => (await runtime.inspect(started.id))?.state === 'running',
    });
    if (!outcome.ready) {
      const logs = redactedText(await runtime.logs(started.id, { tail: 50 }).catch((err: Error) => `(logs unavailable: ${err.message})`), what.secrets);
      const failing = outcome.lastResults?.filter((r) => !r.ok).map((r) => `${r.check}: ${r.detail}`).join('; ');
      const reason =
        outcome.reason === 'timeout'
          ? `not ready within readyTimeout ${component.readyTimeout} ms${failing ? ` (${failing})` : ''}`
          : outcome.reason === 'exited'
            ? 'the container exited before it was ready'
            : 'cancelled';
      emit({ type: 'not-ready', container: started.id, reason, logs });
      throw new EngineError(outcome.reason === 'aborted' ? 'aborted' : 'not-ready', `new container for ${component.name} (${what.image}): ${reason}`, { logs });
    }
    clock.mark('ready');
    emit({ type: 'ready', container: started.id, elapsedMs: outcome.elapsedMs });
    return started;
  } catch (err) {
    // It never took traffic: remove it, and leave what serves untouched.
    if (container) await runtime.remove(container.id).catch(() => undefined);
    throw asEngineError(err, 'runtime', `starting ${component.name} ${what.version}`);
  }
}

/** New server in as ready first, old ones to drain second: at no moment is there no ready server. */
/** Its ports' frontends and its links' alike: a link switches with the component's updates. */
async function switchTo(proxy: HostProxy, component: Component, next: ManagedContainer, previous: ManagedContainer[], emit: EventSink): Promise<void> {
  const frontends = servedFrontends(component);
  for (const { frontend, containerPort } of frontends) {
    const endpoint = next.hostPorts[containerPort];
    if (!endpoint) throw new EngineError('runtime', `container ${next.id} has no published port for ${containerPort}`);
    await proxy.addServer(frontend, { name: serverName(next), address: endpoint.host, port: endpoint.port }, 'ready');
  }
  for (const old of previous) for (const { frontend } of frontends) await drainServer(proxy, frontend, serverName(old));
  emit({ type: 'switched', container: next.id, frontends: frontends.map((f) => f.frontend), previous: previous.map((c) => c.id) });
}
