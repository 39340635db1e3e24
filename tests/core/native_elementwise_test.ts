/**
 * Parity of the native element-wise kernels with the stock wasm kernels: every binary op under numpy
 * broadcasting (same shape, scalar either side, row/column vectors, rank-4 attention-mask shapes), every
 * unary op over its domain (including large tensors split across threads and odd sizes with a tail), and
 * their gradients (GELU via erf, softmax, layer norm; the native Erf and Softmax gradients of gradients.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { assertClose, nativeTest, stockVsNative } from "./native_support.ts";

const BROADCASTS: [number[], number[]][] = [
  [[37, 19], [37, 19]],
  [[37, 19], []],
  [[], [37, 19]],
  [[37, 19], [19]],
  [[37, 1], [1, 19]],
  [[37, 19], [37, 1]],
  [[4, 2, 8, 8], [4, 1, 1, 8]],
  [[3, 1, 5], [2, 1]],
  [[100003], [100003]],
];

nativeTest("native binary ops match stock for every broadcast pattern", async () => {
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ["add", tf.add],
    ["sub", tf.sub],
    ["mul", tf.mul],
    ["div", (a, b) => tf.div(a, tf.add(tf.abs(b), 0.5))],
    ["maximum", tf.maximum],
    ["minimum", tf.minimum],
    ["squaredDifference", tf.squaredDifference],
  ];
  for (const [aShape, bShape] of BROADCASTS) {
    const result = await stockVsNative(() => {
      const a = tf.randomNormal(aShape, 0, 2, "float32", 1), b = tf.randomNormal(bShape, 0, 2, "float32", 2);
      return ops.map(([, op]) => op(a, b));
    });
    assertClose(result, 1e-6, 1e-6, `binary ${aShape} with ${bShape}`);
  }
});

nativeTest(
  "native unary ops match stock over their domains, large and odd-sized tensors included",
  async () => {
    for (const size of [1, 7, 8193, 300000]) {
      const result = await stockVsNative(() => {
        const x = tf.randomNormal([size], 0, 3, "float32", size);
        const positive = tf.add(tf.abs(x), 1e-3);
        return [
          tf.neg(x),
          tf.exp(tf.clipByValue(x, -80, 80)),
          tf.erf(x),
          tf.sqrt(positive),
          tf.rsqrt(positive),
          tf.square(x),
          tf.floor(x),
          tf.abs(x),
          tf.reciprocal(positive),
          tf.relu(x),
          tf.tanh(x),
          tf.log(positive),
          tf.sigmoid(x),
        ];
      });
      assertClose(result, 2e-6, 2e-6, `unary size ${size}`);
    }
  },
);

nativeTest("gradients of GELU, softmax and layer norm match stock", async () => {
  const result = await stockVsNative(() => {
    const x = tf.randomNormal([64, 48], 0, 1, "float32", 3);
    const gamma = tf.randomNormal([48], 1, 0.1, "float32", 4);
    const f = (input: tf.Tensor, g: tf.Tensor) => {
      const gelu = tf.mul(tf.mul(input, 0.5), tf.add(tf.erf(tf.mul(input, Math.SQRT1_2)), 1));
      const { mean, variance } = tf.moments(gelu, -1, true);
      const normed = tf.mul(tf.div(tf.sub(gelu, mean), tf.sqrt(tf.add(variance, 1e-12))), g);
      return tf.sum(tf.mul(tf.softmax(normed), tf.range(0, 48)));
    };
    return tf.grads(f)([x, gamma]);
  });
  assertClose(result, 1e-5, 1e-3, "gelu/layernorm/softmax grads");
});

nativeTest("native Erf and Softmax gradients match stock on thread-split sizes", async () => {
  const result = await stockVsNative(() => {
    const x = tf.randomNormal([300, 1000], 0, 1.5, "float32", 61);
    const w = tf.randomNormal([300, 1000], 0, 1, "float32", 62);
    const logits = tf.randomNormal([64, 4, 128], 0, 3, "float32", 63);
    const v = tf.randomNormal([64, 4, 128], 0, 1, "float32", 64);
    const erfGrad = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.erf(input), w)))(x);
    const softmaxGrad = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.softmax(input), v)))(logits);
    return [erfGrad, softmaxGrad];
  });
  assertClose(result, 1e-6, 1e-4, "erf/softmax grads");
});
