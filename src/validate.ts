/**
 * Argument checks with messages of one shape:
 * "Expected <what> for <name> but received <value>".
 */
import { ErrorCode, LmzipError } from './errors.js';

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return `a ${value.constructor.name} of ${value.length} bytes`;
  return `a ${typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value}`;
}

export function invalid(name: string, expected: string, value: unknown): LmzipError {
  return new LmzipError(ErrorCode.INVALID_ARGUMENT, `Expected ${expected} for ${name} but received ${describe(value)}`);
}

export function integerOption(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalid(name, `an integer from ${min} to ${max}`, value);
  return value;
}

export function booleanOption(name: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalid(name, 'a boolean', value);
  return value;
}

export function bytesArgument(name: string, value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw invalid(name, 'a Uint8Array, Buffer, ArrayBuffer or string', value);
}

export function functionOption<T extends (...args: never[]) => unknown>(name: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalid(name, 'a function', value);
  return value as T;
}

export function signalOption(name: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) throw invalid(name, 'an AbortSignal', value);
  return value;
}
