import { escapeControl } from '@dlf/tensor-core/text';
import { EXIT, oneSentence as sentence } from '../exit.js';
import { withFlagNames } from './flag-names.js';
import { VERSION } from '../version.js';
import { closest, didYouMean } from './suggest.js';
import { MAIN_HELP } from './main-help.js';
import { type CliIO, colorEnabled, makeColors } from './output.js';

/** One sentence for an error, in command-line words (flags, not library options). */
const oneSentence = (e: unknown): string => withFlagNames(sentence(e));

type Command = (argv: string[], io: CliIO) => Promise<number>;
// Each command module (and through it the native addon) loads only when that command runs, so
// `dlf --help` and `dlf --version` work on a machine where the addon is missing.
const commands = () => import('./commands.js');
const errors = () => import('../errors.js');
const COMMANDS: Record<string, Command> = {
  train: async (argv, io) => (await import('./train-command.js')).trainCommand(argv, io),
  evaluate: async (argv, io) => (await commands()).evaluateCommand(argv, io),
  eval: async (argv, io) => (await commands()).evaluateCommand(argv, io),
  summary: async (argv, io) => (await commands()).summaryCommand(argv, io),
  predict: async (argv, io) => (await commands()).predictCommand(argv, io),
  export: async (argv, io) => (await commands()).exportCommand(argv, io),
  onnx: async (argv, io) => (await import('./onnx-command.js')).onnxCommand(argv, io),
};

/** The command a misspelled one most likely meant. */
function suggestCommand(word: string): string | undefined {
  return closest(word, [...Object.keys(COMMANDS), 'help', 'version']);
}

function write(stream: CliIO['stderr'], text: string): void {
  try {
    stream.write(text);
  } catch {
    // The reader went away.
  }
}

/**
 * Runs the `dlf` command line and resolves to the exit code: 0 success, 1 failure, 2 usage error,
 * 130 interrupted. Never throws; errors are printed as one sentence (with the stack when `DEBUG` is
 * set).
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
 * ```
 */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const [first, ...rest] = argv;
  const noColor = argv.includes('--no-color');
  const red = makeColors(colorEnabled(io.stderr, io.env, noColor)).red;
  const json = argv.includes('--json');
  let command = first;
  try {
    if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
      const topic = first === 'help' ? rest[0] : undefined;
      if (topic && COMMANDS[topic]) return await COMMANDS[topic]!(['--help'], io);
      if (topic)
        throw new (await errors()).UsageError(
          `Unknown command '${topic}'${didYouMean(suggestCommand(topic))}`,
        );
      write(io.stdout, `${MAIN_HELP}\n`);
      return first === undefined ? EXIT.usage : EXIT.ok;
    }
    if (first === '--version' || first === '-v' || first === 'version') {
      write(io.stdout, `${VERSION}\n`);
      return EXIT.ok;
    }
    const run = COMMANDS[first];
    if (!run) {
      command = undefined;
      throw new (await errors()).UsageError(
        first.startsWith('-')
          ? `Unknown option ${first}; options go after the command (dlf <command> [options]).`
          : suggestCommand(first)
            ? `Unknown command '${first}'${didYouMean(suggestCommand(first))}`
            : `Unknown command '${first}'; the commands are train, evaluate, summary, predict, export and onnx.`,
      );
    }
    return await run(rest, io);
  } catch (e) {
    // The addon's load failure is already a complete, multi-line explanation without a stack.
    if (e instanceof Error && e.name === 'NativeLoadError') {
      if (json)
        write(
          io.stdout,
          `${JSON.stringify({ event: 'error', message: e.message, exitCode: EXIT.failure })}\n`,
        );
      write(io.stderr, `${red('error:')} ${e.message}\n`);
      return EXIT.failure;
    }
    const { FileError, isAbortError, UsageError } = await errors();
    const debug = io.env.DEBUG !== undefined && io.env.DEBUG !== '' && io.env.DEBUG !== '0';
    if (json) {
      const code = e instanceof UsageError ? EXIT.usage : isAbortError(e) ? EXIT.interrupted : EXIT.failure;
      write(
        io.stdout,
        `${JSON.stringify({ event: 'error', message: oneSentence(e), exitCode: code, ...(e instanceof FileError ? { path: e.path } : {}) })}\n`,
      );
    }
    if (e instanceof UsageError) {
      const cmd = e.command ?? command;
      write(io.stderr, `${red('error:')} ${escapeControl(oneSentence(e))}\n`);
      write(io.stderr, `Run 'dlf ${cmd ? `${cmd} ` : ''}--help' for usage.\n`);
      if (debug && e.stack) write(io.stderr, `${e.stack}\n`);
      return EXIT.usage;
    }
    if (isAbortError(e)) {
      write(io.stderr, 'Interrupted.\n');
      return EXIT.interrupted;
    }
    write(io.stderr, `${red('error:')} ${escapeControl(oneSentence(e))}\n`);
    if (debug) {
      let err: unknown = e;
      while (err instanceof Error) {
        write(io.stderr, `${err.stack ?? err.message}\n`);
        err = err.cause;
        if (err) write(io.stderr, 'Caused by: ');
      }
    }
    return EXIT.failure;
  }
}
