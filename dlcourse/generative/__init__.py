"""Training wrappers that subclass keras.Model only to change train_step (GAN, VAE, AAE), plus their callbacks and evaluation."""
