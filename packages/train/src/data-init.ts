/**
 * Data-dependent initialisation for {@link fit}: layers such as `Whiten2d` set their weights from a
 * sample of the training data before the first step of a fresh run.
 */
import { DataLoader, type Dataset, type Transform } from '@dlf/data';
import { dataInitializedLayers, type Module, initFromData } from '@dlf/nn';
import { checkInt } from '@dlf/tensor-core';

/** The most input values the sample may hold (2^25 floats, 128 MiB): large images take fewer samples. */
const MAX_SAMPLE_VALUES = 2 ** 25;

/**
 * Fits the model's data-initialised layers to `samples` training examples (a seeded draw,
 * preprocessed with `transforms`, no augmentation), or to as many as fit in 2^25 input values when
 * the images are large (5,000 32×32 RGB images are 15.4 M values). Returns the layers fitted; 0
 * without touching the data when the model has none.
 *
 * @example
 * ```ts
 * fitLayersToData(model, train, [normalize(mean, std)], 0, 5000);
 * ```
 */
export function fitLayersToData(
  model: Module,
  train: Dataset,
  transforms: readonly Transform[],
  seed: number,
  samples: number,
): number {
  checkInt('initFromData', samples, 1);
  if (dataInitializedLayers(model).length === 0 || train.length === 0) return 0;
  const perSample = train.shape.reduce((a, b) => a * b, 1);
  const loader = new DataLoader(train, {
    batchSize: Math.max(1, Math.min(samples, train.length, Math.floor(MAX_SAMPLE_VALUES / perSample))),
    shuffle: true,
    seed,
    prefetch: 0,
    transforms,
  });
  const { x, y } = loader.batch(0, 0);
  try {
    return initFromData(model, x);
  } finally {
    x.dispose();
    y.dispose();
  }
}
