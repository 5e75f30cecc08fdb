import logging as _logging


class _Logger(_logging.LoggerAdapter):
    def warning_once(self, msg, *args):
        self.warning(msg, *args)


def get_logger(name):
    return _Logger(_logging.getLogger(name), {})
