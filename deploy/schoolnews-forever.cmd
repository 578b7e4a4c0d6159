@echo off
rem Run SchoolNews on Windows and start it again whenever it stops.
rem Used by the scheduled task in README.md, "Running as a service".
rem Serves on all addresses, port 80; change HOST and PORT below if needed.
cd /d "%~dp0.."
set PYTHONFAULTHANDLER=1
set HOST=0.0.0.0
set PORT=80
:loop
echo %date% %time% starting SchoolNews >> instance\server.log
.venv\Scripts\python.exe serve.py >> instance\server.log 2>&1
echo %date% %time% SchoolNews stopped (exit code %errorlevel%), restarting in 5 seconds >> instance\server.log
rem ping as a sleep: "timeout" refuses to run without a console.
ping -n 6 127.0.0.1 > nul
goto loop
