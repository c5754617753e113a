"""Fitted detector weights shipped as package data (written by ``streamer calibrate``)."""
