/**
 * Errors of the command line: exit codes and one-sentence messages. The error classes are the
 * trainer's.
 */
export { AbortError, FileError, isAbortError, UsageError } from '@dlf/train';
export { EXIT, oneSentence } from './exit.js';
