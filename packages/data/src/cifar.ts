import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readRegularFileSync } from './files.js';
import { join } from 'node:path';
import { Dataset } from './dataset.js';
import { DatasetError, fmt } from './errors.js';

/**
 * CIFAR-10 class names, in label order.
 *
 * @example
 * ```ts
 * CIFAR10_CLASSES[3]; // 'cat'
 * ```
 */
export const CIFAR10_CLASSES: readonly string[] = Object.freeze([
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
]);

/**
 * CIFAR-100 fine class names, in label order (as in `fine_label_names.txt`).
 *
 * @example
 * ```ts
 * CIFAR100_FINE_CLASSES[1]; // 'aquarium_fish'
 * ```
 */
export const CIFAR100_FINE_CLASSES: readonly string[] = Object.freeze(
  (
    'apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can ' +
    'castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin ' +
    'elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster ' +
    'man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck ' +
    'pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk ' +
    'skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger ' +
    'tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm'
  ).split(' '),
);

/**
 * CIFAR-100 coarse (superclass) names, in label order (as in `coarse_label_names.txt`).
 *
 * @example
 * ```ts
 * CIFAR100_COARSE_CLASSES[0]; // 'aquatic_mammals'
 * ```
 */
export const CIFAR100_COARSE_CLASSES: readonly string[] = Object.freeze(
  (
    'aquatic_mammals fish flowers food_containers fruit_and_vegetables household_electrical_devices ' +
    'household_furniture insects large_carnivores large_man-made_outdoor_things large_natural_outdoor_scenes ' +
    'large_omnivores_and_herbivores medium_mammals non-insect_invertebrates people reptiles small_mammals trees ' +
    'vehicles_1 vehicles_2'
  ).split(' '),
);

const PIXELS = 3 * 32 * 32;

/**
 * Which CIFAR-100 labels to use.
 *
 * @example
 * ```ts
 * await openDataset('cifar-100-binary', { cifarLabels: 'coarse' satisfies CifarLabelMode });
 * ```
 */
export type CifarLabelMode = 'fine' | 'coarse';

function readFile(path: string): Buffer {
  return readRegularFileSync(path);
}

/**
 * Reads CIFAR binary batch files into one dataset. Each record is `labelBytes` label bytes then
 * 3,072 pixel bytes (R plane, G plane, B plane, each 32×32 row-major), which is already the
 * channel-major layout a {@link Dataset} holds. For CIFAR-10 `labelBytes` is 1; for CIFAR-100 it is
 * 2 (coarse, then fine) and `labelIndex` picks one (0 coarse, 1 fine).
 *
 * @example
 * ```ts
 * const test = readCifarBatches(['cifar-10-batches-bin/test_batch.bin'], 1, 0, CIFAR10_CLASSES);
 * ```
 */
export function readCifarBatches(
  paths: readonly string[],
  labelBytes: 1 | 2,
  labelIndex: number,
  classes: readonly string[],
  name?: string,
): Dataset {
  const record = labelBytes + PIXELS;
  const buffers = paths.map((p) => {
    const b = readFile(p);
    if (b.length === 0 || b.length % record !== 0) {
      throw new DatasetError(
        'TRUNCATED',
        p,
        `${p} is truncated or not a ${labelBytes === 1 ? 'CIFAR-10' : 'CIFAR-100'} batch: ${fmt(b.length)} bytes is not a positive multiple of the ${fmt(record)}-byte record.`,
      );
    }
    return b;
  });
  const n = buffers.reduce((a, b) => a + b.length / record, 0);
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  let k = 0;
  buffers.forEach((b, f) => {
    const count = b.length / record;
    for (let r = 0; r < count; r++, k++) {
      const off = r * record;
      for (let j = 0; j < labelBytes; j++) {
        // CIFAR-100 records carry both labels: check both, whichever is used, to catch corrupt files.
        const limit = j === labelIndex ? classes.length : j === 0 ? 20 : 100;
        const value = b[off + j]!;
        if (value >= limit) {
          throw new DatasetError(
            'BAD_LABEL',
            paths[f]!,
            `${paths[f]} has label ${value} in record ${r}, outside the ${limit} classes [0, ${limit - 1}]; the file is corrupt or not this format.`,
          );
        }
      }
      const label = b[off + labelIndex]!;
      labels[k] = label;
      images.set(b.subarray(off + labelBytes, off + record), k * PIXELS);
    }
  });
  return new Dataset({ images, labels, shape: [3, 32, 32], classes, name: name ?? paths.join(', ') });
}

function classNamesFile(path: string, expected: number): string[] | undefined {
  if (!existsSync(path)) return undefined;
  const names = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length !== expected) {
    throw new DatasetError(
      'MISMATCH',
      path,
      `${path} lists ${names.length} class names where ${expected} were expected.`,
    );
  }
  return names;
}

/** @internal CIFAR files found in a folder. */
export interface CifarFiles {
  kind: 'cifar10' | 'cifar100';
  train: string[];
  test: string[];
}

/** @internal Detects CIFAR-10 (`data_batch_*.bin`, `test_batch.bin`) or CIFAR-100 (`train.bin`, `test.bin`). */
export function findCifarFiles(dir: string, names: string[] = readdirSync(dir)): CifarFiles | undefined {
  const batches = names
    .filter((n) => /^data_batch_\d+\.bin$/.test(n))
    .sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]));
  if (batches.length > 0 || names.includes('test_batch.bin')) {
    if (batches.length === 0) {
      throw new DatasetError(
        'NOT_FOUND',
        dir,
        `${dir} has test_batch.bin but no data_batch_*.bin training files.`,
      );
    }
    if (!names.includes('test_batch.bin')) {
      throw new DatasetError(
        'NOT_FOUND',
        join(dir, 'test_batch.bin'),
        `${join(dir, 'test_batch.bin')} is missing (CIFAR-10 needs a test batch).`,
      );
    }
    return { kind: 'cifar10', train: batches.map((n) => join(dir, n)), test: [join(dir, 'test_batch.bin')] };
  }
  if (names.includes('train.bin') || names.includes('test.bin')) {
    for (const n of ['train.bin', 'test.bin']) {
      if (!names.includes(n)) {
        throw new DatasetError(
          'NOT_FOUND',
          join(dir, n),
          `${join(dir, n)} is missing (CIFAR-100 needs train.bin and test.bin).`,
        );
      }
    }
    return { kind: 'cifar100', train: [join(dir, 'train.bin')], test: [join(dir, 'test.bin')] };
  }
  return undefined;
}

/**
 * Opens a CIFAR-10 or CIFAR-100 binary folder. Class names come from `batches.meta.txt`
 * (CIFAR-10) or `fine_label_names.txt` / `coarse_label_names.txt` (CIFAR-100) when present,
 * otherwise from the published lists.
 *
 * @example
 * ```ts
 * const { train, test, classes } = openCifar('cifar-100-binary', { labels: 'coarse' });
 * classes.length; // 20
 * ```
 */
export function openCifar(
  dir: string,
  options: { labels?: CifarLabelMode } = {},
): { train: Dataset; test: Dataset; classes: readonly string[]; format: 'cifar10' | 'cifar100' } {
  const files = findCifarFiles(dir);
  if (!files) {
    throw new DatasetError(
      'UNKNOWN_LAYOUT',
      dir,
      `${dir} holds no CIFAR binary files (data_batch_*.bin and test_batch.bin, or train.bin and test.bin).`,
    );
  }
  if (files.kind === 'cifar10') {
    const classes = classNamesFile(join(dir, 'batches.meta.txt'), 10) ?? CIFAR10_CLASSES;
    return {
      train: readCifarBatches(files.train, 1, 0, classes, `${dir} (train)`),
      test: readCifarBatches(files.test, 1, 0, classes, `${dir} (test)`),
      classes,
      format: 'cifar10',
    };
  }
  const coarse = options.labels === 'coarse';
  const classes = coarse
    ? (classNamesFile(join(dir, 'coarse_label_names.txt'), 20) ?? CIFAR100_COARSE_CLASSES)
    : (classNamesFile(join(dir, 'fine_label_names.txt'), 100) ?? CIFAR100_FINE_CLASSES);
  const index = coarse ? 0 : 1;
  return {
    train: readCifarBatches(files.train, 2, index, classes, `${dir} (train)`),
    test: readCifarBatches(files.test, 2, index, classes, `${dir} (test)`),
    classes,
    format: 'cifar100',
  };
}
