/** Where a container port can be reached from the agent. */
export interface Endpoint {
  host: string;
  port: number;
}

/** What a check command run inside the container reported. */
export interface ExecOutcome {
  exitCode: number;
  output: string;
}

/** Docker's view of the image's own HEALTHCHECK; 'none' when the image declares none. */
export type DockerHealth = 'healthy' | 'unhealthy' | 'starting' | 'none';

/**
 * The container a check runs against, as narrow as the checks need: they never see Docker. The
 * runtime implements it for a real container; tests implement it with local servers and fakes.
 */
export interface CheckTarget {
  /** Where a container port is reachable from the agent (e.g. 127.0.0.1:49153); undefined when not published. */
  endpoint(containerPort: number): Endpoint | undefined;
  /** Runs a command inside the container, at most `timeoutMs`. */
  exec(command: string[], timeoutMs: number): Promise<ExecOutcome>;
  /** Docker's view of the image's HEALTHCHECK. */
  dockerHealth(): Promise<DockerHealth>;
}
