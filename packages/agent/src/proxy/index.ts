export { ProxyBindError } from './bind-probe';
export { DEFAULT_SETTINGS, type HaproxyTime, type ProxySettings, type ProxySettingsInput } from './config';
export { ProxyConfigError, ProxyProcessError, UnknownFrontendError, UnknownServerError } from './errors';
export { type MaintenanceAnswer } from './maintenance-maps';
export { type Frontend, type ProxyServer, type ServerState, backendName, frontendProxyName, sanitizeName } from './frontend';
export { type HaproxyHostProxyOptions, type HostProxy, type ProxyRestore, type ServerStatus, HaproxyHostProxy } from './proxy';
export { RuntimeApiError, SocketUnavailableError } from './runtime-api';
