import { readFileSync } from 'node:fs';
import { jsonPath, secretValuesOf, type Component } from '@gantry/spec';
import { EngineError } from './errors';

/** The most a `valueFrom` file may hold: an environment value, not a file to ship. */
export const SECRET_FILE_MAX_BYTES = 64 * 1024;

/** A component as this host runs it: every `valueFrom` read, and the values no output may show. */
export interface HostEnvironment {
  component: Component;
  /** Values marked `secret: true`, and every `valueFrom` file's content. */
  secrets: string[];
}

/**
 * Reads each `valueFrom` file (the host policy allowed its path before) into the value the
 * container gets; one trailing newline is dropped (`echo pw > file` writes one). The value goes to
 * Docker and nowhere else. A file that cannot be read is an error naming the variable, the field
 * and the path, never its content: nothing is created, what serves keeps serving.
 */
export function readHostEnvironment(component: Component, index: number, readFile: (path: string) => Buffer = (p) => readFileSync(p)): HostEnvironment {
  const secrets = secretValuesOf(component);
  const environmentVariables = component.environmentVariables.map((variable, k) => {
    const file = variable.valueFrom?.file;
    if (file === undefined) return variable;
    const where = `${jsonPath(['components', index, 'environmentVariables', k, 'valueFrom', 'file'])} (${variable.name})`;
    let content: Buffer;
    try {
      content = readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new EngineError('secret-file', `${where}: cannot read ${file}: ${code ?? 'unreadable'}`);
    }
    if (content.length > SECRET_FILE_MAX_BYTES) throw new EngineError('secret-file', `${where}: ${file} holds ${content.length} bytes, more than an environment value may (${SECRET_FILE_MAX_BYTES})`);
    if (content.includes(0)) throw new EngineError('secret-file', `${where}: ${file} holds a NUL byte, which no environment value can`);
    const value = content.toString('utf8').replace(/\r?\n$/, '');
    secrets.push(value);
    return { name: variable.name, value, ...(variable.secret !== undefined && { secret: variable.secret }) };
  });
  return { component: { ...component, environmentVariables }, secrets };
}
