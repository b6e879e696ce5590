"""Callbacks: code `fit` calls at fixed points of training, as in Keras (`keras.callbacks`).

Lecture: Coursera C1 W2, where a `myCallback(tf.keras.callbacks.Callback)` stops training
once `logs.get('accuracy') > 0.6` by setting `self.model.stop_training = True`.

One file per callback, as in keras/src/callbacks/ (read them side by side):

    callback.py                 Callback (the hooks), CallbackList (what fit calls), History
    progbar.py                  Progbar and ProgbarLogger: the progress display
    monitor.py                  MonitorCallback: "did the monitored metric improve?"
    model_checkpoint.py         ModelCheckpoint: save the model (or the best one) as it trains
    backup_and_restore.py       BackupAndRestore: resume an interrupted fit exactly
    early_stopping.py           EarlyStopping: stop when it stops improving
    reduce_lr_on_plateau.py     ReduceLROnPlateau: lower the learning rate when it stalls
    learning_rate_scheduler.py  LearningRateScheduler: learning rate = schedule(epoch, lr)
    csv_logger.py               CSVLogger: one CSV row per epoch
    terminate_on_nan.py         TerminateOnNaN: stop at a NaN/inf loss
    lambda_callback.py          LambdaCallback: a callback from plain functions
    tensorboard.py              TensorBoard: event files for the TensorBoard app
"""
from scratchnet.callbacks.backup_and_restore import BackupAndRestore
from scratchnet.callbacks.callback import Callback, CallbackList, History
from scratchnet.callbacks.csv_logger import CSVLogger
from scratchnet.callbacks.early_stopping import EarlyStopping
from scratchnet.callbacks.lambda_callback import LambdaCallback
from scratchnet.callbacks.learning_rate_scheduler import LearningRateScheduler
from scratchnet.callbacks.model_checkpoint import ModelCheckpoint
from scratchnet.callbacks.monitor import MonitorCallback
from scratchnet.callbacks.progbar import Progbar, ProgbarLogger, _progress_bar  # noqa: F401
from scratchnet.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from scratchnet.callbacks.tensorboard import TensorBoard
from scratchnet.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping",
           "History", "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint",
           "MonitorCallback", "ProgbarLogger", "ReduceLROnPlateau", "TensorBoard",
           "TerminateOnNaN"]
