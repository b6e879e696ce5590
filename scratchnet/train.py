"""TF1's `tf.train` optimizers that older lecture code still names, as scratchnet ones.

    model.compile(optimizer=tf.train.AdamOptimizer(), ...)      # TF1-era notebooks

`AdamOptimizer` is Keras's Adam with TF1's defaults -- epsilon 1e-8 instead of Keras's
1e-7 -- and TF1's argument names (beta1, beta2); the update is the same formula (TF1 also
added epsilon to the un-corrected sqrt(v)). `GradientDescentOptimizer` is plain SGD.
"""
from scratchnet.optimizers import SGD, Adam


def AdamOptimizer(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08,
                  use_locking=False, name="Adam"):
    return Adam(learning_rate=learning_rate, beta_1=beta1, beta_2=beta2, epsilon=epsilon,
                name=name)


def GradientDescentOptimizer(learning_rate, use_locking=False, name="GradientDescent"):
    return SGD(learning_rate=learning_rate, name=name)


__all__ = ["AdamOptimizer", "GradientDescentOptimizer"]
