package dubbo

import (
	"fmt"
	"strings"

	gostlogger "github.com/dubbogo/gost/log/logger"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// libraryLogger is what dubbo-go logs through once QuietLibraryLogs has
// run: its lines without stack traces, errors and above only, on standard
// error, minus the router-chain notice it writes for every direct
// reference ("No routerFactory exists"): the gateway picks instances
// itself, so a reference has no routers by design.
type libraryLogger struct {
	*zap.SugaredLogger
}

func newLibraryLogger() (*libraryLogger, error) {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg := zap.Config{
		Level:             zap.NewAtomicLevelAt(zap.ErrorLevel),
		Encoding:          "console",
		EncoderConfig:     enc,
		DisableStacktrace: true,
		OutputPaths:       []string{"stderr"},
		ErrorOutputPaths:  []string{"stderr"},
	}
	l, err := cfg.Build(zap.AddCaller(), zap.AddCallerSkip(2))
	if err != nil {
		return nil, err
	}
	return &libraryLogger{l.Sugar()}, nil
}

func routerNotice(msg string) bool { return strings.Contains(msg, "No routerFactory exists") }

func (l *libraryLogger) Error(args ...any) {
	if !routerNotice(fmt.Sprint(args...)) {
		l.SugaredLogger.Error(args...)
	}
}

func (l *libraryLogger) Errorf(format string, args ...any) {
	if !routerNotice(fmt.Sprintf(format, args...)) {
		l.SugaredLogger.Errorf(format, args...)
	}
}

var _ gostlogger.Logger = (*libraryLogger)(nil)
