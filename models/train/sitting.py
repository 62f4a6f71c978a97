"""What train_lm.py and train_ddpm.py share: a learning-rate schedule that survives being resumed, and a
sitting loop that checkpoints on a timer, on SIGTERM / SIGINT and at the end, so a run can be trained in
several sittings on a CPU shared with other work."""
import calendar
import math
import signal
import time


def add_arguments(parser, steps, lr, warmup):
    parser.add_argument("--steps", type=int, default=steps, help="the step at which the schedule ends")
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--final-lr-fraction", type=float, default=0.1)
    parser.add_argument("--warmup", type=int, default=warmup, help="learning-rate warm-up steps")
    parser.add_argument("--deadline", default=None,
                        help="UTC HH:MM: train until then instead of to --steps; the schedule follows the wall "
                             "clock from the schedule's start to the deadline (robust to a shared, busy CPU)")
    parser.add_argument("--new-schedule", action="store_true",
                        help="on resuming, start a fresh warm-up and cosine from the current step (a warm restart "
                             "that continues a finished run towards a later --steps or --deadline)")
    parser.add_argument("--checkpoint-seconds", type=float, default=120)
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop this sitting after so many minutes (checkpointed, resumable)")


def parse_deadline(text):
    """Epoch seconds of the next HH:MM UTC."""
    hours, minutes = (int(v) for v in text.split(":"))
    now = time.gmtime()
    today = calendar.timegm((now.tm_year, now.tm_mon, now.tm_mday, hours, minutes, 0, 0, 0, 0))
    return today if today > time.time() - 12 * 3600 else today + 86400


class Schedule:
    """Linear warm-up, then cosine from lr to final_lr_fraction * lr as progress goes from 0 to 1.

    Progress runs from the schedule's start (step and time, kept in the checkpoint's history) to --steps, or
    by wall clock to --deadline. A run resumed without --new-schedule continues its schedule where it was."""

    def __init__(self, args, history, step):
        self.args = args
        self.deadline = parse_deadline(args.deadline) if args.deadline else None
        if args.new_schedule or "schedule" not in history:
            # Checkpoints from before the schedule was stored started their schedule at step 0.
            fresh = args.new_schedule or step == 0
            history["schedule"] = {"start_step": step if fresh else 0,
                                   "start_time": time.time() if fresh else history.get("run_start", time.time())}
            if args.new_schedule:
                history.setdefault("restarts", []).append({"step": step, "lr": args.lr, "steps": args.steps,
                                                           "deadline": args.deadline})
        self.start_step = history["schedule"]["start_step"]
        self.start_time = history["schedule"]["start_time"]

    def progress(self, step):
        if self.deadline:
            return (time.time() - self.start_time) / max(1.0, self.deadline - self.start_time)
        return (step - self.start_step) / max(1, self.args.steps - self.start_step)

    def learning_rate(self, step):
        args = self.args
        if step - self.start_step < args.warmup:
            return args.lr * (step - self.start_step + 1) / args.warmup
        cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, self.progress(step))))
        return args.lr * (args.final_lr_fraction + (1 - args.final_lr_fraction) * cosine)

    def done(self, step):
        return self.progress(step) >= 1.0


class Sitting:
    """One sitting of a resumable run: call save_if_due() after each step and stopping() to end the loop."""

    def __init__(self, args, save):
        self.args, self.save = args, save
        self.stop = []  # SIGTERM / SIGINT: finish the current step, checkpoint, exit (resumable)
        signal.signal(signal.SIGTERM, lambda *_: self.stop.append(True))
        signal.signal(signal.SIGINT, lambda *_: self.stop.append(True))
        self.start = self.last_save = time.time()

    def save_if_due(self):
        if time.time() - self.last_save > self.args.checkpoint_seconds:
            self.save()
            self.last_save = time.time()

    def stopping(self, step):
        if self.stop or (self.args.max_minutes and time.time() - self.start > self.args.max_minutes * 60):
            print("stopping this sitting at step %d (checkpointed, resumable)" % step, flush=True)
            return True
        return False
