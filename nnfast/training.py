"""Training from hyperparameters: a record and data in, a trained model and its history out.

This is the top of the model layer: it reads the plain :class:`~nnfast.Hyperparameters`
record, decides the task once (:meth:`Hyperparameters.resolve_task`), builds the network
the record describes and drives :meth:`Sequential.fit`. Imports flow one way: this
module imports the record and the model; neither imports it.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Tuple, Union

from ._targets import TaskChoice, Targets, classes_array
from .callbacks import Callback, EarlyStopping, History
from .hyperparams import Hyperparameters
from .model import Sequential

__all__ = ["train", "build_model"]


def _check_record(hp: Any) -> Hyperparameters:
    if not isinstance(hp, Hyperparameters):
        raise TypeError(f"hp must be nnfast.Hyperparameters, got {type(hp).__name__}")
    return hp


def _build(hp: Hyperparameters, choice: TaskChoice, classes: Any = None) -> Sequential:
    n_outputs = Targets(choice.loss).fit(choice.y if classes is None else classes_array(classes)).n_outputs
    model = Sequential(hp.layers(n_outputs, choice.loss), init=hp.init, init_scale=hp.init_scale, seed=hp.seed,
                       dtype=hp.dtype)
    model.hyperparameters = hp
    return model


def build_model(hp: Hyperparameters, y: Any) -> Tuple[Sequential, str]:
    """The untrained network ``hp`` describes for targets y, and the loss it trains with.

    The task is decided as :func:`train` decides it (``hp.task``, ``hp.loss``, or what
    ``task="auto"`` reads from y), without warnings.

    Raises
    ------
    TypeError
        If ``hp`` is not a Hyperparameters record.
    ValueError
        For targets the task cannot use (e.g. one class only).
    """
    choice = _check_record(hp).resolve_task(y, warn=False)
    return _build(hp, choice), choice.loss


def _check_continues(model: Any, hp: Hyperparameters, choice: TaskChoice) -> None:
    """ValueError unless ``model`` is what ``hp`` describes, so that training it further is
    the run ``hp`` would continue: architecture, dtype and seed (loss, classes and
    scaling are checked by the fit itself)."""
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be an nnfast.Sequential to train further, got {type(model).__name__}")
    if model.dtype != hp.dtype:
        raise ValueError(f"the model is {model.dtype} but hp.dtype is {hp.dtype!r}; a model trains further in its "
                         f"own dtype (train without model= to start afresh)")
    if model.seed != hp.seed:
        raise ValueError(f"the model's seed is {model.seed} but hp.seed is {hp.seed}; training further continues "
                         f"the model's random streams (train without model= to start afresh)")
    if not model.built:
        return
    wanted = hp.layers(model.n_outputs, choice.loss)
    if list(model.layers) != wanted:
        raise ValueError(f"the model's layers {list(model.layers)} are not the ones hp describes ({wanted}); "
                         f"train without model= to start afresh")


def _choose(hp: Hyperparameters, y: Any, model: Optional[Sequential], classes: Any) -> TaskChoice:
    """The task and loss of a run: a fitted ``model``'s own when it is continued (its
    classes and loss, never guessed again from y, which may hold a subset of them), else
    read from ``classes`` when given (all the labels a first fit must know), else from y."""
    fitted: Optional[Targets] = getattr(model, "_targets", None) if model is not None else None
    if hp.loss == "auto" and fitted is not None:
        if hp.task not in ("auto", fitted.task):
            raise ValueError(f"the model was fitted for {fitted.task} (loss {fitted.loss!r}), not task={hp.task!r}; "
                             f"train without model= to start afresh")
        return hp.replace(loss=fitted.loss).resolve_task(y, stacklevel=3)
    if hp.loss == "auto" and classes is not None:
        loss = hp.resolve_task(classes_array(classes), warn=False).loss
        return hp.replace(loss=loss).resolve_task(y, stacklevel=3)
    return hp.resolve_task(y, stacklevel=3)


def train(hp: Hyperparameters, X: Any, y: Any, *, validation: Optional[Tuple[Any, ...]] = None,
          sample_weight: Any = None, callbacks: Optional[Iterable[Callback]] = (),
          verbose: Union[bool, str, None] = "auto", model: Optional[Sequential] = None,
          classes: Any = None) -> Tuple[Sequential, History]:
    """Build the network ``hp`` describes and train it on (X, y).

    Parameters
    ----------
    hp : Hyperparameters
    X, y : training data (see :meth:`nnfast.Sequential.fit` for the forms of y)
        The task is ``hp.task``, decided by ``hp.loss`` when that is not "auto", or read
        from y by ``task="auto"`` (see :class:`nnfast.Hyperparameters`): a guess that
        could go either way comes with an :class:`nnfast.AutoTaskWarning`, class labels
        given as a column (n, 1) are read as 1-D with a :class:`nnfast.LabelColumnWarning`.
        ``history.task`` and ``model.task`` say what was decided.
    validation : (X_val, y_val), optional
        Watched every epoch, used for early stopping (``hp.patience``), never trained
        on. Without it, ``hp.validation_split`` of (X, y) is held out when set.
    sample_weight : array of shape (samples,), optional
        Multiplied by ``hp.class_weight``'s weights, when set.
    callbacks : iterable of Callback, or None
    verbose : bool, "auto" or None
        See :meth:`nnfast.Sequential.fit`, which also says what happens when training
        diverges and which errors bad data raises.
    model : Sequential, optional
        A model to train further instead of a new one: it must have the layers, dtype
        and seed ``hp`` describes, and was fitted with the same loss and
        ``standardize``; its classes, scaling, optimizer state, random streams and
        schedule carry on (see "Fitting again" in :meth:`nnfast.Sequential.fit`). With
        ``hp.loss="auto"`` the run keeps the model's own task and loss (a subset of its
        classes in y is fine: the loss is not guessed again from y).
    classes : array-like of shape (n_classes,), optional
        Classification: every class label, when y may hold only some of them (training
        on data that arrives in parts, as scikit-learn's ``partial_fit``). It decides
        ``loss="auto"`` (binary cross-entropy for two classes) and the output units;
        labels in y outside it are a ValueError. For a continued model it must be the
        model's classes.

    Returns
    -------
    model : Sequential
        The trained model; ``model.hyperparameters`` is ``hp``.
    history : History
        Per-epoch costs and metrics, why training stopped, and the task.

    Raises
    ------
    TypeError, ValueError
        For a bad record, data or model, before any training.

    Examples
    --------
    >>> import nnfast as nf
    >>> X, y = nf.data.load_digits()
    >>> hp = nf.Hyperparameters(hidden=(32,), epochs=3, standardize=True)
    >>> model, history = nf.train(hp, X, y, verbose=False)
    >>> history.epochs, history.task
    (3, 'classification')
    """
    choice = _choose(_check_record(hp), y, model, classes)
    if model is None:
        model = _build(hp, choice, classes)
    else:
        _check_continues(model, hp, choice)
    callbacks = model._callbacks(callbacks, False)
    if hp.patience is not None:
        callbacks.insert(0, EarlyStopping(patience=hp.patience, min_delta=hp.min_delta, improvement_over=hp.improvement_over))
    history = model.fit(X, choice.y, loss=choice.loss, optimizer=hp.optimizer_spec(), epochs=hp.epochs,
                        batch_size=hp.batch_size, validation=validation,
                        validation_split=hp.validation_split if validation is None else 0.0,
                        sample_weight=sample_weight, class_weight=hp.class_weight, l1=hp.l1, l2=hp.l2,
                        clip_norm=hp.clip_norm, schedule=hp.schedule_spec(), callbacks=callbacks, shuffle=hp.shuffle,
                        standardize=hp.standardize, classes=classes, verbose=verbose)
    model.hyperparameters = hp
    return model, history
