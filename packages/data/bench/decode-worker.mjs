// Worker for the worker_threads decode strategy in bench.mjs: decodes its share of files with the
// same decodeImages() the package uses, and posts the pixels back (transferred, not copied).
import { parentPort, workerData } from 'node:worker_threads';
import { decodeImages } from '../dist/index.js';

const { images } = await decodeImages(workerData.files, workerData.opts);
parentPort.postMessage(images, [images.buffer]);
