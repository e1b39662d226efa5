"""Fine-tuning: training examples from dialogues and interactions, QLoRA training, adapter evaluation."""
