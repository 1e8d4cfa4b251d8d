/**
 * The libraries name their options (`maxPixels`, `maxMacs`, …) when they refuse a file as too large;
 * on the command line the message names the flag that raises the budget. Loads nothing else, so the
 * output and the top-level error handler can use it.
 */

/** Library option → command-line flag, for messages that say what to raise. */
const FLAG_OF: Record<string, string> = {
  maxPixels: '--max-image-pixels',
  maxActivationBytes: '--max-model-activations',
  maxMacs: '--max-model-macs',
  maxParams: '--max-model-params',
};

/**
 * A library message in command-line words: "raise maxMacs" becomes "raise it with --max-model-macs".
 *
 * @example
 * ```ts
 * withFlagNames('… budget (raise maxPixels to read it)'); // '… budget (raise it with --max-image-pixels to read it)'
 * ```
 */
export function withFlagNames(message: string): string {
  return message.replace(
    /\braise (maxPixels|maxActivationBytes|maxMacs|maxParams)\b/g,
    (_, option: string) => `raise it with ${FLAG_OF[option]}`,
  );
}
