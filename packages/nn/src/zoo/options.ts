/** Options every zoo model takes. */
export interface ZooOptions {
  /** Number of classes (output size). Default 10. */
  classes?: number;
  /** Input channels: 3 for RGB, 1 for grey. Default 3. */
  inChannels?: number;
  /** Input height and width. Default 32. */
  inputSize?: number;
  /** Seed for the initial weights. Default 0. */
  seed?: number;
}
