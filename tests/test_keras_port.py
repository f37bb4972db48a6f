"""utils.models.keras_port: Keras 3 runs on the torch backend, and the article's Keras models copied into the
book's ports give the same outputs; a wrong layout (a plain transpose, another gate order) is detected."""
import numpy as np
import pytest
import torch

from utils.data import text
from utils.models import cnn, keras_port, text_classifier

from error_facts import raises_naming

keras = keras_port.load_keras()


def test_backend_is_torch_and_the_book_sets_it():
    import os

    assert keras.backend.backend() == "torch"
    assert os.environ["KERAS_BACKEND"] == "torch"


def _article_cnn(seed=0):
    keras.utils.set_random_seed(seed)
    from keras import layers

    model = keras.Sequential([keras.Input((28, 28, 1)),
                              layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                              layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                              layers.Flatten(), layers.Dense(128, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    # larger random weights than Glorot's, so that a wrong layout changes the outputs a lot
    model.set_weights([w * 3 for w in model.get_weights()])
    return model


def _images(n=16):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def test_cnn_copy_gives_keras_outputs_and_parameter_count():
    model = _article_cnn()
    assert model.count_params() == 225_034
    port = keras_port.cnn_to_torch(model, cnn.ArticleCNN())
    x = _images()
    with torch.no_grad():
        probs = port(x).softmax(1)
    torch.testing.assert_close(probs, keras_port.predict(model, keras_port.channels_last(x)),
                               atol=1e-5, rtol=1e-5)


def test_cnn_with_a_plain_transpose_of_the_first_dense_kernel_is_detected():
    model = _article_cnn()
    port = keras_port.cnn_to_torch(model, cnn.ArticleCNN())
    kernel = torch.as_tensor(model.layers[5].get_weights()[0])               # (1600, 128), rows (H, W, C)
    with torch.no_grad():
        port.classifier[1].weight.copy_(kernel.T)                            # the wrong, (C, H, W)-blind copy
        wrong = port(_images()).softmax(1)
    right = keras_port.predict(model, keras_port.channels_last(_images()))
    assert (wrong - right).abs().max() > 1e-2


def test_flatten_order_maps_keras_features_to_pytorch_order():
    x = torch.randn(2, 3, 4, 5)                                              # (N, C, H, W)
    keras_flat = x.permute(0, 2, 3, 1).reshape(2, -1)                        # Keras: (H, W, C)
    torch.testing.assert_close(keras_flat[:, keras_port.flatten_order(4, 5, 3)], x.reshape(2, -1))
    with pytest.raises(ValueError, match="height"):
        keras_port.flatten_order(0, 5, 3)


def test_conv_kernel_layout():
    k = torch.randn(3, 3, 2, 4)                                              # (K_h, K_w, C_in, C_out)
    w = keras_port.conv_kernel_to_torch(k)
    assert w.shape == (4, 2, 3, 3) and w[1, 0, 2, 1] == k[2, 1, 0, 1]
    with pytest.raises(ValueError, match="4 dimensions"):
        keras_port.conv_kernel_to_torch(torch.zeros(3, 3))


def _article_rnn(vocab=50, classes=2, seed=0):
    keras.utils.set_random_seed(seed)
    from keras import layers

    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              layers.Embedding(vocab, 10, mask_zero=True),
                              layers.LSTM(16, return_sequences=True), layers.LSTM(16),
                              layers.Dense(classes, activation="softmax")])
    model.set_weights([w * 3 for w in model.get_weights()])
    return model


def _sentences(vocab=50, width=12):
    g = torch.Generator().manual_seed(1)
    lengths = torch.tensor([12, 1, 7, 3, 9, 5])
    ids = torch.randint(1, vocab, (len(lengths), width), generator=g)
    ids[torch.arange(width)[None, :] >= lengths[:, None]] = text.PAD_ID     # end padding, as the book pads
    return ids, lengths


def _port(classes=2, vocab=50):
    return text_classifier.SentenceClassifier(text_classifier.SentenceClassifierConfig(vocab_size=vocab, embed_dim=10, hidden_size=16,
                                                                 num_classes=classes))


def test_rnn_copy_keras_masking_equals_packing_for_padded_sentences():
    model = _article_rnn()
    assert model.count_params() == 50 * 10 + 4 * (16 * 26 + 16) + 4 * (16 * 32 + 16) + 2 * 17   # one bias
    port = keras_port.sentence_classifier_to_torch(model, _port())
    ids, lengths = _sentences()
    with torch.no_grad():
        probs = port(ids, lengths).softmax(1)
    torch.testing.assert_close(probs, keras_port.predict(model, ids.numpy()), atol=1e-5, rtol=1e-5)
    assert probs.sub(0.5).abs().max() > 0.05                                 # not a trivially flat output


def test_rnn_with_gates_in_another_order_is_detected():
    model = _article_rnn()
    port = keras_port.sentence_classifier_to_torch(model, _port())
    ids, lengths = _sentences()
    i, f, c, o = port.lstm.weight_hh_l0.detach().split(16)
    with torch.no_grad():
        port.lstm.weight_hh_l0.copy_(torch.cat([i, f, o, c]))                 # i, f, o, c: wrong
        wrong = port(ids, lengths).softmax(1)
    assert (wrong - keras_port.predict(model, ids.numpy())).abs().max() > 1e-3


def test_rnn_copy_refuses_a_model_of_another_shape():
    model = _article_rnn()
    with raises_naming(ValueError, "(10, 64)", "(32, 10)"):       # Keras' kernel, the LSTM's weight
        keras_port.sentence_classifier_to_torch(model, text_classifier.SentenceClassifier(
            text_classifier.SentenceClassifierConfig(vocab_size=50, embed_dim=10, hidden_size=8)))
    with pytest.raises(ValueError, match="unidirectional"):
        keras_port.sentence_classifier_to_torch(model, text_classifier.SentenceClassifier(
            text_classifier.SentenceClassifierConfig(vocab_size=50, embed_dim=10, hidden_size=16, bidirectional=True)))


def test_cnn_copy_refuses_another_model():
    with raises_naming(ValueError, "Conv2D", "['Embedding', 'LSTM', 'LSTM', 'Dense']"):   # wanted, found
        keras_port.cnn_to_torch(_article_rnn(), cnn.ArticleCNN())


def test_input_helpers():
    x = torch.rand(2, 1, 3, 4)
    assert keras_port.channels_last(x).shape == (2, 3, 4, 1)
    assert keras_port.channels_last(x).dtype == np.float32
    np.testing.assert_array_equal(keras_port.one_hot(torch.tensor([1, 0]), 3), [[0, 1, 0], [1, 0, 0]])
    with raises_naming(ValueError, "(N, C, H, W)", "(3, 4)"):
        keras_port.channels_last(torch.zeros(3, 4))


def test_show_warning_prints_no_path(capsys):
    import sys

    keras_port.show_warning(UserWarning("look"), UserWarning, "/some/dir/file.py", 3, file=sys.stdout)
    assert capsys.readouterr().out == "UserWarning: look\n"
