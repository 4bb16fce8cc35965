/** Lines of HAProxy output worth showing: its alerts and warnings, without the version notices. */
const significant = (output: string): string =>
  output
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^\[NOTICE\]/.test(line))
    .join('\n');

/** `haproxy -c` rejected a config; nothing was written or reloaded. `output` is HAProxy's, verbatim. */
export class ProxyConfigError extends Error {
  constructor(readonly output: string) {
    super(`HAProxy rejected the configuration:\n${significant(output) || output}`);
    this.name = 'ProxyConfigError';
  }
}

/** Starting or reloading HAProxy failed; `output` is what the master logged meanwhile, verbatim. */
export class ProxyProcessError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(output.trim() === '' ? message : `${message}:\n${significant(output) || output}`);
    this.name = 'ProxyProcessError';
  }
}

/** The frontend is not among those given to `ensure()`. */
export class UnknownFrontendError extends Error {
  constructor(readonly frontend: string) {
    super(`unknown frontend ${frontend}: ensure() it first`);
    this.name = 'UnknownFrontendError';
  }
}

/** The server was never added to this frontend. */
export class UnknownServerError extends Error {
  constructor(
    readonly frontend: string,
    readonly server: string,
  ) {
    super(`frontend ${frontend} has no server ${server}`);
    this.name = 'UnknownServerError';
  }
}
