import { EXIT, FileError, isAbortError, oneSentence, UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import { evaluateCommand, exportCommand, predictCommand, summaryCommand } from './commands.js';
import { closest, didYouMean } from './args.js';
import { MAIN_HELP } from './help.js';
import { onnxCommand } from './onnx-command.js';
import { type CliIO, colorEnabled, makeColors } from './output.js';
import { trainCommand } from './train-command.js';

const COMMANDS: Record<string, (argv: string[], io: CliIO) => Promise<number>> = {
  train: trainCommand,
  evaluate: evaluateCommand,
  eval: evaluateCommand,
  summary: summaryCommand,
  predict: predictCommand,
  export: exportCommand,
  onnx: onnxCommand,
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
      if (topic) throw new UsageError(`Unknown command '${topic}'${didYouMean(suggestCommand(topic))}`);
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
      throw new UsageError(
        first.startsWith('-')
          ? `Unknown option ${first}; options go after the command (dlf <command> [options]).`
          : suggestCommand(first)
            ? `Unknown command '${first}'${didYouMean(suggestCommand(first))}`
            : `Unknown command '${first}'; the commands are train, evaluate, summary, predict, export and onnx.`,
      );
    }
    return await run(rest, io);
  } catch (e) {
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
      write(io.stderr, `${red('error:')} ${oneSentence(e)}\n`);
      write(io.stderr, `Run 'dlf ${cmd ? `${cmd} ` : ''}--help' for usage.\n`);
      if (debug && e.stack) write(io.stderr, `${e.stack}\n`);
      return EXIT.usage;
    }
    if (isAbortError(e)) {
      write(io.stderr, 'Interrupted.\n');
      return EXIT.interrupted;
    }
    write(io.stderr, `${red('error:')} ${oneSentence(e)}\n`);
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
